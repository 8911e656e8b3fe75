// The deployed shape, inside workerd: requests through the Worker's own fetch (SELF), its cron
// through `scheduled`, D1 with the committed migrations, copies to a partner on 127.0.0.1.
import { createExecutionContext, createScheduledController, env, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import samples from '../../fixtures/apple-samples.json' with { type: 'json' };
import schema from '../../fixtures/conversion-schema.json' with { type: 'json' };
import { d1Store } from '../../src/db/d1/writer.js';
import { StorageUnavailableError } from '../../src/db/db.js';
import { deliveries, maintenanceJobs, postbacks } from '../../src/db/schema.js';
import worker, { CRON_BUDGET } from '../../src/worker/index.js';
import { createWorkerRuntime } from '../../src/worker/runtime.js';
import { resetTables } from './reset.js';

const ADMIN = { authorization: `Bearer ${env.SKANPOST_ADMIN_KEY}`, 'content-type': 'application/json' };
const SKAN_PATH = 'https://skanpost.example/.well-known/skadnetwork/report-attribution/';

const post = (body: unknown, path = SKAN_PATH) => SELF.fetch(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

async function received(): Promise<Array<{ method: string; url: string; headers: Record<string, string>; body: string }>> {
  return (await fetch(`${env.RECEIVER_URL}/received`)).json();
}

beforeEach(async () => {
  await resetTables((await createWorkerRuntime(env)).db);
});

async function addPartner(): Promise<number> {
  const created = await SELF.fetch('https://skanpost.example/v1/destinations', {
    method: 'POST',
    headers: ADMIN,
    body: JSON.stringify({ name: 'local partner', url: `${env.RECEIVER_URL}/skan`, secret: 'partner-shared-secret-123' }),
  });
  expect(created.status).toBe(201);
  return ((await created.json()) as { id: number }).id;
}

describe("Apple's published postbacks on workerd", () => {
  for (const sample of samples) {
    it(`${sample.id}: ${sample.expect}`, async () => {
      const response = await post(sample.body);
      expect(response.status).toBe(200);
      const receipt = (await response.json()) as { signature: string; outcome: string };
      expect(receipt.signature).toBe(sample.expect);
      expect(receipt.outcome).toBe('stored');
      // Stored byte for byte.
      const { db } = await createWorkerRuntime(env);
      const [row] = await db.select().from(postbacks);
      expect(row!.body).toBe(JSON.stringify(sample.body));
    });
  }

  it('includes a P-192 sample (WebCrypto on workerd has no P-192)', () => {
    expect(samples.some((s) => ['1.0', '2.0', undefined].includes((s.body as { version?: string }).version) && s.expect === 'verified')).toBe(true);
  });
});

describe('HTTP behaviour matches Node', () => {
  it('rejects a non-JSON body with problem+json listing the problem', async () => {
    const response = await SELF.fetch(SKAN_PATH, { method: 'POST', body: '{"version": "4.0",' });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(((await response.json()) as { problems: unknown[] }).problems.length).toBeGreaterThan(0);
  });

  it('refuses a body over 16 KiB', async () => {
    const response = await SELF.fetch(SKAN_PATH, { method: 'POST', body: `{"pad":"${'x'.repeat(17_000)}"}` });
    expect(response.status).toBe(413);
  });

  it('answers health, the OpenAPI document, and 401 without a key', async () => {
    expect((await SELF.fetch('https://skanpost.example/healthz')).status).toBe(200);
    expect(((await (await SELF.fetch('https://skanpost.example/openapi.json')).json()) as { openapi: string }).openapi).toBe('3.1.0');
    expect((await SELF.fetch('https://skanpost.example/v1/reports/campaigns?from=2026-11-01&to=2026-11-02')).status).toBe(401);
  });

  it('serves a report of what it ingested', async () => {
    let counted = 0; // some samples are copies of one install: only first verified copies count
    for (const sample of samples) {
      const receipt = (await (await post(sample.body)).json()) as { outcome: string; signature: string };
      if (receipt.outcome === 'stored' && receipt.signature === 'verified') counted++;
    }
    expect(counted).toBeGreaterThan(1);
    const today = new Date().toISOString().slice(0, 10);
    const response = await SELF.fetch(`https://skanpost.example/v1/reports/campaigns?from=${today}&to=${today}&group_by=protocol`, { headers: ADMIN });
    expect(response.status).toBe(200);
    const { rows } = (await response.json()) as { rows: Array<{ protocol: string; postbacks: number; verified: number }> };
    expect(rows.reduce((n, r) => n + r.verified, 0)).toBe(counted);
  });
});

describe('forwarding from workerd', () => {
  it('sends a fresh copy right after the 200 (waitUntil) and the cron settles the rest', async () => {
    await addPartner();
    const sample = samples.find((s) => s.expect === 'verified')!;
    const before = (await received()).length;

    // Through the entry itself, so its waitUntil runs and can be awaited.
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request(SKAN_PATH, { method: 'POST', body: JSON.stringify(sample.body) }), env, ctx);
    expect(response.status).toBe(200);
    await waitOnExecutionContext(ctx);
    const copies = (await received()).slice(before);
    expect(copies).toHaveLength(1);
    expect(copies[0]!.body).toBe(JSON.stringify(sample.body)); // raw: byte-identical
    expect(copies[0]!.headers['x-skanpost-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);

    // Nothing left for the cron; a run of it is harmless and records nothing new.
    await worker.scheduled(createScheduledController({ cron: '* * * * *', scheduledTime: Date.now() }), env);
    const { db } = await createWorkerRuntime(env);
    const states = await db.select({ state: deliveries.state }).from(deliveries);
    expect(states).toEqual([{ state: 'delivered' }]);
    expect((await received()).length).toBe(before + 1);
  });

  it('the cron drains copies that are due', async () => {
    const id = await addPartner();
    // Paused, the destination collects its copies without sending them.
    expect((await SELF.fetch(`https://skanpost.example/v1/destinations/${id}/pause`, { method: 'POST', headers: ADMIN })).status).toBe(200);
    const verified = [];
    for (const sample of samples) {
      const receipt = (await (await post(sample.body)).json()) as { outcome: string; signature: string };
      if (receipt.outcome === 'stored' && receipt.signature === 'verified') verified.push(sample);
    }
    const { db } = await createWorkerRuntime(env);
    expect((await db.select().from(deliveries)).map((d) => d.state)).toEqual(verified.map(() => 'pending'));
    const before = (await received()).length;

    expect((await SELF.fetch(`https://skanpost.example/v1/destinations/${id}/resume`, { method: 'POST', headers: ADMIN })).status).toBe(200);
    await worker.scheduled(createScheduledController({ cron: '* * * * *', scheduledTime: Date.now() }), env);
    expect((await db.select().from(deliveries)).map((d) => d.state)).toEqual(verified.map(() => 'delivered'));
    const copies = (await received()).slice(before);
    expect(copies.map((c) => c.body).sort()).toEqual(verified.map((s) => JSON.stringify(s.body)).sort());
  });
});

describe('the cron resumes bounded background work', () => {
  it('re-decodes after a schema change in slices, picking up where the last run stopped', async () => {
    for (const sample of samples) await post(sample.body);
    const { db } = await createWorkerRuntime(env);
    const appId = 525463029;
    const app = (await db.select().from(postbacks)).filter((p) => p.appId === appId);
    expect(app.length).toBeGreaterThan(2);
    const created = await SELF.fetch(`https://skanpost.example/v1/apps/${appId}/schemas`, { method: 'POST', headers: ADMIN, body: JSON.stringify(schema) });
    expect(created.status).toBe(201);

    const budget = { ...CRON_BUDGET };
    Object.assign(CRON_BUDGET, { jobChunks: 1, jobChunkSize: 2 });
    try {
      const run = () => worker.scheduled(createScheduledController({ cron: '* * * * *', scheduledTime: Date.now() }), env);
      await run();
      const [job] = await db.select().from(maintenanceJobs);
      expect(job!.doneAt).toBeNull(); // one slice of two rows, then the run stopped
      expect(job!.cursor).toBeGreaterThan(0);
      for (let i = 0; i < app.length && !(await db.select().from(maintenanceJobs))[0]!.doneAt; i++) await run();
      expect((await db.select().from(maintenanceJobs))[0]!.doneAt).not.toBeNull();
    } finally {
      Object.assign(CRON_BUDGET, budget);
    }
    const decoded = (await db.select().from(postbacks)).filter((p) => p.appId === appId && p.conversionValue !== null);
    expect(decoded.length).toBeGreaterThan(0);
    expect(decoded.every((p) => p.decode !== null)).toBe(true);
  });

  it('prunes expired unverified rows', async () => {
    const invalid = samples.find((s) => s.expect === 'invalid')!;
    await post(invalid.body);
    const { db } = await createWorkerRuntime(env);
    await db.update(postbacks).set({ receivedAt: new Date(Date.now() - 91 * 86_400_000) });
    await worker.scheduled(createScheduledController({ cron: '* * * * *', scheduledTime: Date.now() }), env);
    expect(await db.select().from(postbacks)).toEqual([]);
  });
});

describe('D1 failures', () => {
  it('a write D1 cannot take now becomes StorageUnavailableError (503, the device retries); a bug stays an error', async () => {
    const { db } = await createWorkerRuntime(env);
    const { writer } = d1Store(db);
    const fail = (message: string) => writer.run(async () => Promise.reject(new Error(message)));
    await expect(fail('D1_ERROR: D1 DB is overloaded. Too many requests queued.')).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(fail('D1_ERROR: Network connection lost.')).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(fail('D1_ERROR: too many SQL variables at offset 429: SQLITE_ERROR')).rejects.not.toBeInstanceOf(StorageUnavailableError);
  });
});

describe('round trips to D1', () => {
  /** env.DB wrapped to count the calls that reach the database: one per query, one per batch. */
  function counting(db: D1Database) {
    let trips = 0;
    const real = new WeakMap<object, D1PreparedStatement>();
    const trip = <T>(call: () => T): T => {
      trips++;
      return call();
    };
    const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
      const wrapper = {
        bind: (...values: unknown[]) => wrap(statement.bind(...values)),
        first: (column?: string) => trip(() => (column === undefined ? statement.first() : statement.first(column))),
        all: () => trip(() => statement.all()),
        raw: (options?: { columnNames?: boolean }) => trip(() => statement.raw(options as never)),
        run: () => trip(() => statement.run()),
      } as unknown as D1PreparedStatement;
      real.set(wrapper, statement);
      return wrapper;
    };
    const wrapped = {
      prepare: (query: string) => wrap(db.prepare(query)),
      batch: (statements: D1PreparedStatement[]) => trip(() => db.batch(statements.map((s) => real.get(s) ?? s))),
      exec: (query: string) => trip(() => db.exec(query)),
    } as unknown as D1Database;
    return { db: wrapped, trips: () => trips };
  }

  it('a new postback costs two: the settings in one batch, the write in another; an app seen for the first time two more', async () => {
    const d1 = counting(env.DB);
    // Two installs of one app (two transactions).
    const [first, second] = ['apple-4.0-fine-source-domain', 'apple-3.0-win'].map((id) => samples.find((s) => s.id === id));
    // Through the Worker's own entry, which also decides whether to forward right away.
    const post = async (body: unknown) => {
      const ctx = createExecutionContext();
      const response = await worker.fetch(new Request(SKAN_PATH, { method: 'POST', body: JSON.stringify(body) }), { ...env, DB: d1.db }, ctx);
      await waitOnExecutionContext(ctx);
      return response.json();
    };
    // The shard map: the app is looked up, then placed (one batch), and remembered by the isolate.
    expect(await post(first!.body)).toMatchObject({ outcome: 'stored' });
    expect(d1.trips()).toBe(4);
    expect(await post(second!.body)).toMatchObject({ outcome: 'stored' });
    expect(d1.trips()).toBe(6);
  });
});
