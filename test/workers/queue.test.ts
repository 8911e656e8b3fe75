// Queue-buffered ingest inside workerd (SKANPOST_INGEST_MODE=queue): the edge answers `queued` once
// the queue has the postback, the consumer writes it, and a message delivered again or out of order
// changes nothing.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { beforeAll, beforeEach, expect, it } from 'vitest';
import type { NewPostbackRow } from '../../src/db/schema.js';
import { createApp } from '../../src/http/app.js';
import { preparePostback } from '../../src/ingest/ingest.js';
import { fromMessage, type QueuedMessage, toMessage } from '../../src/ingest/queue.js';
import worker from '../../src/worker/index.js';
import { createWorkerRuntime, type WorkerEnv, type WorkerRuntime } from '../../src/worker/runtime.js';
import { generateWebKey, skan4Postback, type WebKey } from '../support/web-signing.js';
import { resetTables } from './reset.js';

const ORIGIN = 'https://skanpost.example';
const SKAN = `${ORIGIN}/.well-known/skadnetwork/report-attribution/`;
let key: WebKey;
let runtime: WorkerRuntime;
let queueEnv: WorkerEnv;

beforeAll(async () => {
  key = await generateWebKey();
});

beforeEach(async () => {
  queueEnv = { ...env, SKANPOST_EXTRA_KEYS: key.spkiBase64, SKANPOST_INGEST_MODE: 'queue' } as WorkerEnv;
  runtime = await createWorkerRuntime(queueEnv);
  await resetTables(runtime.db);
});

const admin = { authorization: `Bearer ${env.SKANPOST_ADMIN_KEY}`, 'content-type': 'application/json' };

const postback = (overrides: Record<string, unknown> = {}) => skan4Postback(key, overrides);

const count = async (table: string) => (await runtime.db.values<[number]>(sql.raw(`select count(*) from ${table}`)))[0]![0];
const installs = async () => (await runtime.db.values<[number]>(sql`select total(installs) from rollups`))[0]![0];

it('answers queued once the queue has the postback, and the consumer writes it', async () => {
  const app = createApp(runtime.deps);
  const bodies = await Promise.all([1, 2, 3].map(() => postback()));
  for (const body of bodies) {
    const r = await app.request(SKAN, { method: 'POST', body: JSON.stringify(body) });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ id: null, outcome: 'queued', signature: 'verified', reasons: [] });
  }
  // A body that cannot be kept is refused at the edge, as always: nothing is queued.
  expect((await app.request(SKAN, { method: 'POST', body: '{"not": "a postback"}' })).status).toBe(400);
  // The consumer runs on its own, a moment later (bounded wait).
  for (let i = 0; i < 100 && (await count('postbacks')) < 3; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await count('postbacks')).toBe(3);
  expect(await installs()).toBe(3);
});

it('counts each postback once, whatever is delivered again or out of order', async () => {
  const bodies = await Promise.all([1, 2, 3, 4].map(() => postback()));
  // A copy with another conversion value: a conflict of the first, counted as such once.
  bodies.push({ ...bodies[0]!, 'conversion-value': 9 });
  const messages: QueuedMessage[] = [];
  for (const [i, body] of bodies.entries()) {
    const prepared = await preparePostback(new TextEncoder().encode(JSON.stringify(body)), runtime.deps.verification, new Date(Date.UTC(2026, 10, 20, 10, i)));
    if (!prepared.ok) throw new Error('not a postback');
    messages.push(toMessage({ kind: 'postback', row: prepared.row }));
  }
  const deliver = async (bodiesToSend: QueuedMessage[]) => {
    const batch = createMessageBatch<QueuedMessage>(
      'skanpost-ingest-0',
      bodiesToSend.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, queueEnv);
    return getQueueResult(batch, ctx);
  };
  const first = await deliver(messages);
  expect(first.explicitAcks.sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  expect(first.retryMessages).toEqual([]);
  const before = {
    postbacks: await count('postbacks'),
    installs: await installs(),
    conflicts: (await runtime.db.values<[number]>(sql`select total(conflicts) from rollups`))[0]![0],
  };
  expect(before).toEqual({ postbacks: 5, installs: 4, conflicts: 1 });
  // Everything again, reversed, then a random half: nothing moves.
  await deliver([...messages].reverse());
  await deliver(messages.filter((_, i) => i % 2 === 1));
  expect({
    postbacks: await count('postbacks'),
    installs: await installs(),
    conflicts: (await runtime.db.values<[number]>(sql`select total(conflicts) from rollups`))[0]![0],
  }).toEqual(before);
});

it('retries a message it cannot read rather than dropping it', async () => {
  const batch = createMessageBatch('skanpost-ingest-1', [{ id: 'bad', timestamp: new Date(), attempts: 1, body: { v: 2 } }]);
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, queueEnv);
  const result = await getQueueResult(batch, ctx);
  expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(['bad']);
  expect(result.explicitAcks).toEqual([]);
});

it('answers 503 with Retry-After when the queue does not take the postback, so the device retries', async () => {
  // A producer that refuses, as Cloudflare's does when a queue is over its limits.
  const refusing = { send: () => Promise.reject(new Error('Queue send failed: rate limited')), sendBatch: () => Promise.reject(new Error('no')) };
  const failing = await createWorkerRuntime({ ...queueEnv, INGEST_QUEUE_0: refusing as unknown as Queue<QueuedMessage>, INGEST_QUEUE_1: undefined });
  const r = await createApp(failing.deps).request(SKAN, { method: 'POST', body: JSON.stringify(await postback()) });
  expect(r.status).toBe(503);
  expect(r.headers.get('retry-after')).not.toBeNull();
  expect(await r.json()).toMatchObject({ reason: 'storage_unavailable' });
  expect(await count('postbacks')).toBe(0);
});

it('refuses queue mode without a producer binding, naming it', async () => {
  await expect(createWorkerRuntime({ ...queueEnv, INGEST_QUEUE_0: undefined, INGEST_QUEUE_1: undefined })).rejects.toThrow(/INGEST_QUEUE_0/);
});

it('keeps the dead-letter queue for admins, once each, and replays a dead letter into the ingest queues', async () => {
  const prepared = await preparePostback(new TextEncoder().encode(JSON.stringify(await postback())), runtime.deps.verification, new Date(Date.UTC(2026, 10, 20, 10)));
  if (!prepared.ok) throw new Error('not a postback');
  const dead = () =>
    createMessageBatch<QueuedMessage>('skanpost-ingest-dlq', [{ id: 'dead-1', timestamp: new Date(), attempts: 1, body: toMessage({ kind: 'postback', row: prepared.row }) }]);
  for (let delivery = 0; delivery < 2; delivery++) {
    const batch = dead();
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, queueEnv);
    expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
  }
  const app = createApp(runtime.deps);
  const listed = (await (await app.request('https://skanpost.example/v1/queue/dead-letters', { headers: admin })).json()) as {
    dead_letters: Array<{ id: number; message_id: string; postback: { ad_network_id: string; signature: string } }>;
  };
  expect(listed.dead_letters).toEqual([
    expect.objectContaining({ message_id: 'dead-1', postback: expect.objectContaining({ ad_network_id: 'net.skadnetwork', signature: 'verified' }) }),
  ]);
  expect(await count('postbacks')).toBe(0);

  const replay = await app.request('https://skanpost.example/v1/queue/dead-letters/replay', {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({ ids: [listed.dead_letters[0]!.id] }),
  });
  expect(await replay.json()).toEqual({ replayed: 1 });
  expect(((await (await app.request('https://skanpost.example/v1/queue/dead-letters', { headers: admin })).json()) as { dead_letters: unknown[] }).dead_letters).toEqual([]);
  // The replayed message goes through the ingest queue to the consumer, which stores it.
  for (let i = 0; i < 100 && (await count('postbacks')) < 1; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await count('postbacks')).toBe(1);

  // Without queue mode there is nowhere to replay to.
  const direct = await createWorkerRuntime({ ...env, SKANPOST_EXTRA_KEYS: key.spkiBase64 } as WorkerEnv);
  const refused = await createApp(direct.deps).request('https://skanpost.example/v1/queue/dead-letters/replay', {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({ ids: [1] }),
  });
  expect(refused.status).toBe(400);
  expect(await refused.json()).toMatchObject({ problems: [expect.objectContaining({ field: 'ids' })] });
});

/** POSTs `body` as the admin and reads the 201 answer. */
async function created<T>(app: ReturnType<typeof createApp>, path: string, body: unknown): Promise<T> {
  const r = await app.request(`${ORIGIN}${path}`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
  const text = await r.text();
  expect(r.status, text).toBe(201);
  return JSON.parse(text) as T;
}

/** An MMP partner (custom parameters: click_id, event_name…) and a tracking link through it. */
async function partnerAndLink(app: ReturnType<typeof createApp>) {
  const partner = await created<{ id: number; token: string }>(app, '/v1/mmp-partners', { name: 'MMP', preset: 'custom' });
  const link = await created<{ id: number }>(app, '/v1/links', {
    name: 'L',
    app_id: 1_234_567_890,
    ad_network_id: 'net.example.skadnetwork',
    network_campaign_id: 'nc-1',
    mmp_partner_id: partner.id,
    target_url: 'https://mmp.example/?c={click_id}',
  });
  return { partner, link };
}

/** Queued messages of `count` fresh postbacks, received a minute apart. */
async function postbackMessages(count: number): Promise<QueuedMessage[]> {
  const bodies = await Promise.all(Array.from({ length: count }, () => postback()));
  return Promise.all(
    bodies.map(async (body, i) => {
      const prepared = await preparePostback(new TextEncoder().encode(JSON.stringify(body)), runtime.deps.verification, new Date(Date.UTC(2026, 10, 20, 10, i)));
      if (!prepared.ok) throw new Error('not a postback');
      return toMessage({ kind: 'postback', row: prepared.row });
    }),
  );
}

/** Runs the Worker's consumer on `bodies` with `bindings`; resolves with what it acked and retried. */
async function consume(bodies: QueuedMessage[], bindings: WorkerEnv = queueEnv) {
  const batch = createMessageBatch<QueuedMessage>(
    'skanpost-ingest-0',
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, bindings);
  const result = await getQueueResult(batch, ctx);
  return { acked: [...result.explicitAcks].sort(), retried: result.retryMessages.map((m: { msgId: string }) => m.msgId).sort() };
}

/** The DB binding, counting its `batch()` calls (each a D1 round trip) and failing those `fail` picks. */
function watchedDb(fail: (statements: number) => boolean = () => false) {
  const watch = { batches: [] as number[] };
  const db = new Proxy(env.DB, {
    get(target, property) {
      if (property === 'batch')
        return (statements: D1PreparedStatement[]) => {
          watch.batches.push(statements.length);
          return fail(statements.length) ? Promise.reject(new Error('D1_ERROR: injected failure')) : target.batch(statements);
        };
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { db, watch };
}

it('writes a batch of 100 postbacks in one D1 round trip, each counted once', async () => {
  const messages = await postbackMessages(100);
  const { db, watch } = watchedDb();
  const result = await consume(messages, { ...queueEnv, DB: db });
  expect(result.retried).toEqual([]);
  expect(result.acked).toHaveLength(100);
  // The app's placement on a shard (it is new), the settings (one read) and every insert with its
  // counts (one write): not one per postback.
  expect(watch.batches).toHaveLength(3);
  expect(await count('postbacks')).toBe(100);
  expect(await installs()).toBe(100);
  // The same batch again: nothing moves.
  await consume(messages);
  expect(await count('postbacks')).toBe(100);
  expect(await installs()).toBe(100);
});

it('keeps a relayed copy once, however often its message is delivered', async () => {
  const [direct] = await postbackMessages(1);
  const { row } = fromMessage(direct) as { row: NewPostbackRow };
  const relayed = toMessage({ kind: 'postback', row: { ...row, channel: 'relay:acme', receivedAt: new Date(row.receivedAt.getTime() + 3_600_000) } });
  await consume([direct!, relayed]);
  await consume([relayed, direct!, relayed]);
  expect(await count('postbacks')).toBe(1);
  expect(await count('postback_copies')).toBe(1);
  expect(await installs()).toBe(1);
});

it('retries only the messages whose write failed; delivering the batch again counts nothing twice', async () => {
  const { partner, link } = await partnerAndLink(createApp(runtime.deps));
  const clickedAt = new Date(Date.UTC(2026, 10, 20, 9));
  const click = toMessage({
    kind: 'click',
    click: {
      clickId: 'imported-1',
      linkId: link.id,
      appId: 1_234_567_890,
      touch: 'click',
      clickedAt,
      expiresAt: new Date(clickedAt.getTime() + 86_400_000),
      imported: false,
      sub1: null,
      sub2: null,
      sub3: null,
      sub4: null,
      sub5: null,
    },
  });
  const fields = {
    clickId: null,
    eventName: 'install',
    eventId: 'i-1',
    eventValue: null,
    revenue: null,
    currency: null,
    eventTime: clickedAt,
    installTime: clickedAt,
    clickTime: null,
  };
  const mmp = toMessage({
    kind: 'mmp',
    partnerId: partner.id,
    read: {
      raw: { event_name: 'install', event_id: 'i-1' },
      fields: { ...fields, touchType: null, isReattribution: false, attributed: false, rejected: false, rejectReason: null, appId: 1_234_567_890, countryCode: null, os: null },
    },
    receivedAt: clickedAt,
  });
  const postbacks = await postbackMessages(30);
  const batch = [...postbacks.slice(0, 15), click, mmp, ...postbacks.slice(15)];
  // The write of the 30 postbacks (one large batch) fails once; the click's and the MMP postback's go in.
  let failures = 1;
  const { db } = watchedDb((statements) => statements > 20 && failures-- > 0);
  const first = await consume(batch, { ...queueEnv, DB: db });
  expect(first.acked).toEqual(['m15', 'm16']);
  expect(first.retried).toHaveLength(30);
  expect({ postbacks: await count('postbacks'), clicks: await count('clicks'), mmp: await count('mmp_postbacks') }).toEqual({ postbacks: 0, clicks: 1, mmp: 1 });
  // The queue delivers the retried messages, and (at least once) the others again.
  const second = await consume(batch);
  expect(second.retried).toEqual([]);
  expect({ postbacks: await count('postbacks'), installs: await installs(), clicks: await count('clicks'), mmp: await count('mmp_postbacks') }).toEqual({
    postbacks: 30,
    installs: 30,
    clicks: 1,
    mmp: 1,
  });
  const mmpTotals = (await runtime.db.values<[number, number]>(sql`select total(clicks), total(unattributed) from mmp_rollups`))[0];
  expect(mmpTotals).toEqual([1, 1]);
});

it('queues MMP postbacks and clicks at the edge; the consumer checks the click and stores both', async () => {
  const deferred: Array<Promise<unknown>> = [];
  const edge = await createWorkerRuntime(queueEnv, undefined, (work) => deferred.push(work));
  const app = createApp(edge.deps);
  const { partner, link } = await partnerAndLink(app);
  const redirect = await app.request(`${ORIGIN}/c/${link.id}`);
  expect(redirect.status).toBe(302);
  const clickId = new URL(redirect.headers.get('location')!).searchParams.get('c')!;
  await Promise.all(deferred.splice(0));
  const intake = (params: Record<string, string>) => app.request(`${ORIGIN}/mmp/${partner.id}?${new URLSearchParams({ token: partner.token, ...params })}`);
  const accepted = await intake({ click_id: clickId, event_name: 'install', event_id: 'a' });
  expect(accepted.status).toBe(200);
  expect(await accepted.json()).toEqual({ id: null, outcome: 'queued', reasons: [] });
  // A forged click is queued too: the consumer keeps it as rejected.
  expect((await intake({ click_id: 'sp1.forged', event_name: 'install', event_id: 'b' })).status).toBe(200);
  // What the partner gets wrong is still refused at the edge, with nothing queued.
  expect((await intake({ event_name: 'install', install_time: 'yesterday' })).status).toBe(400);
  // Consumed by the Worker's queue handler on its own (bounded wait).
  for (let i = 0; i < 100 && ((await count('mmp_postbacks')) < 2 || (await count('clicks')) < 1); i++) await new Promise((r) => setTimeout(r, 50));
  expect(await count('clicks')).toBe(1);
  const rows = await runtime.db.values<[string, string]>(sql`select event_id, outcome from mmp_postbacks order by event_id`);
  expect(rows).toEqual([
    ['a', 'accepted'],
    ['b', 'rejected'],
  ]);
});
