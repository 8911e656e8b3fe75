// D1 sharded by app, inside workerd: DB holds the settings and the shard map, SHARD_0…2 each app's
// rows. The same requests made of a single database and of three shards give the same answers:
// every report byte for byte, every listing row for row (ids aside: they name their shard).
import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import schema from '../../fixtures/conversion-schema.json' with { type: 'json' };
import { createApp } from '../../src/http/app.js';
import { preparePostback } from '../../src/ingest/ingest.js';
import { type QueuedMessage, toMessage } from '../../src/ingest/queue.js';
import worker, { cronShards } from '../../src/worker/index.js';
import { createWorkerRuntime, forgetShardPlacements, type WorkerEnv, type WorkerRuntime } from '../../src/worker/runtime.js';
import { generateWebKey, skan4Postback, type WebKey } from '../support/web-signing.js';
import { resetTables } from './reset.js';

const ORIGIN = 'https://skanpost.example';
const SKAN = `${ORIGIN}/.well-known/skadnetwork/report-attribution/`;
const ADMIN = { authorization: `Bearer ${env.SKANPOST_ADMIN_KEY}`, 'content-type': 'application/json' };
/** Placed in this order on an empty map: 0, 1, 2, then 0 again (the fewest apps, lowest index first). */
const APPS = [101, 202, 303, 404];
const SHARD_ID = 2 ** 40;

let key: WebKey;
const clock = { at: new Date('2026-11-20T00:00:00Z') };

const shardedEnv = (): WorkerEnv =>
  ({ ...env, DB: env.SCALE_DB, SHARD_0: env.SCALE_SHARD_0, SHARD_1: env.SCALE_SHARD_1, SHARD_2: env.SCALE_SHARD_2, SKANPOST_EXTRA_KEYS: key.spkiBase64 }) as WorkerEnv;
const singleEnv = (): WorkerEnv => ({ ...env, DB: env.SCALE_SINGLE, SKANPOST_EXTRA_KEYS: key.spkiBase64 }) as WorkerEnv;

interface Side {
  runtime: WorkerRuntime;
  app: ReturnType<typeof createApp>;
  deferred: Array<Promise<unknown>>;
  call(path: string, init?: RequestInit): Response | Promise<Response>;
}

async function side(bindings: WorkerEnv): Promise<Side> {
  const deferred: Array<Promise<unknown>> = [];
  const runtime = await createWorkerRuntime(
    bindings,
    () => clock.at,
    (work) => deferred.push(work),
  );
  const app = createApp(runtime.deps);
  return { runtime, app, deferred, call: (path, init = {}) => app.request(`${ORIGIN}${path}`, { ...init, headers: { ...ADMIN, ...init.headers } }) };
}

async function json<T>(response: Response | Promise<Response>, status = 200): Promise<T> {
  const r = await response;
  const text = await r.text();
  expect(r.status, text).toBe(status);
  return JSON.parse(text) as T;
}

beforeAll(async () => {
  key = await generateWebKey();
});

beforeEach(async () => {
  forgetShardPlacements();
  for (const bindings of [shardedEnv(), singleEnv()]) {
    const runtime = await createWorkerRuntime(bindings);
    await resetTables(runtime.db);
    for (const shard of runtime.shards.all) await resetTables(shard.db);
  }
});

const count = async (s: Side, shard: number, table: string) => (await s.runtime.shards.all[shard]!.db.values<[number]>(sql.raw(`select count(*) from ${table}`)))[0]![0];

/**
 * The same traffic for both sides: settings, direct and relayed postbacks of four apps over three
 * days (a conflicting copy among them), clicks and MMP postbacks, and uploaded figures.
 */
async function fill(s: Side): Promise<void> {
  clock.at = new Date('2026-11-01T00:00:00Z');
  await json(s.call('/v1/apps/303/schemas', { method: 'POST', body: JSON.stringify({ ...schema, effective_from: '2026-10-01T00:00:00Z' }) }), 201);
  await json(
    s.call('/v1/campaigns', {
      method: 'POST',
      body: JSON.stringify({ ad_network_id: 'net.a', app_id: 101, source_identifier: '39', name: 'Spring', network_campaign_id: 'nc-39' }),
    }),
    201,
  );
  const relay = await json<{ key: string }>(s.call('/v1/relay-keys', { method: 'POST', body: JSON.stringify({ name: 'acme' }) }), 201);
  const bodies: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 24; i++) {
    bodies.push(
      await skan4Postback(key, {
        'app-id': APPS[i % 4],
        'ad-network-id': i % 3 === 0 ? 'net.b' : 'net.a',
        'source-identifier': ['5239', '1139', '2239'][i % 3],
        'transaction-id': `00000000-0000-4000-9000-${String(i).padStart(12, '0')}`,
        'conversion-value': i % 7,
      }),
    );
  }
  for (const [i, body] of bodies.entries()) {
    clock.at = new Date(Date.UTC(2026, 10, 20 + (i % 3), i));
    await json(s.app.request(SKAN, { method: 'POST', body: JSON.stringify(body) }));
  }
  // Relayed copies an hour later, one with another conversion value (a conflict).
  for (const [i, body] of bodies.slice(0, 6).entries()) {
    clock.at = new Date(Date.UTC(2026, 10, 20 + (i % 3), i + 1));
    const copy = i === 5 ? await skan4Postback(key, { ...body, 'conversion-value': 63 }) : body;
    await json(s.app.request(SKAN, { method: 'POST', body: JSON.stringify(copy), headers: { authorization: `Bearer ${relay.key}` } }));
  }

  clock.at = new Date('2026-11-20T08:00:00Z');
  const partner = await json<{ id: number; token: string }>(s.call('/v1/mmp-partners', { method: 'POST', body: JSON.stringify({ name: 'MMP', preset: 'custom' }) }), 201);
  for (const app of [202, 303]) {
    const link = await json<{ id: number }>(
      s.call('/v1/links', {
        method: 'POST',
        body: JSON.stringify({
          name: `L${app}`,
          app_id: app,
          ad_network_id: 'net.a',
          network_campaign_id: `nc-${app}`,
          mmp_partner_id: partner.id,
          target_url: 'https://mmp.example/?c={click_id}',
        }),
      }),
      201,
    );
    for (let k = 0; k < 3; k++) {
      clock.at = new Date(Date.UTC(2026, 10, 20, 9, k));
      const redirect = await s.app.request(`${ORIGIN}/c/${link.id}`);
      expect(redirect.status).toBe(302);
      await Promise.all(s.deferred.splice(0));
      const clickId = new URL(redirect.headers.get('location')!).searchParams.get('c')!;
      clock.at = new Date(Date.UTC(2026, 10, 20, 10, k));
      const install = { token: partner.token, click_id: clickId, event_name: 'install', event_id: `i-${app}-${k}` };
      await json(s.app.request(`${ORIGIN}/mmp/${partner.id}?${new URLSearchParams(install)}`));
      const purchase = { token: partner.token, click_id: clickId, event_name: 'purchase', event_id: `p-${app}-${k}`, revenue: `${k + 1}.99`, currency: 'EUR' };
      await json(s.app.request(`${ORIGIN}/mmp/${partner.id}?${new URLSearchParams(purchase)}`));
    }
  }
  const reported = APPS.slice(0, 3).flatMap((app) =>
    ['2026-11-20', '2026-11-21'].map((date, d) => ({ source: 'network', date, tz: 'UTC', app_id: app, ad_network_id: 'net.a', campaign: '39', metric: 'installs', value: 2 + d })),
  );
  await json(s.call('/v1/reported', { method: 'POST', body: JSON.stringify(reported) }));
}

/** The answer without its wall-clock time. */
async function body(s: Side, path: string): Promise<string> {
  const r = await s.call(path);
  const text = await r.text();
  expect(r.status, `${path}: ${text}`).toBe(200);
  if (!(r.headers.get('content-type') ?? '').includes('json')) return text;
  const parsed = JSON.parse(text) as { meta?: Record<string, unknown> };
  delete parsed.meta?.generated_at;
  return JSON.stringify(parsed);
}

/** Every page of a listing, cursor after cursor (bounded). */
async function everyPage<T>(s: Side, path: string, key: string, limit: number): Promise<T[]> {
  const rows: T[] = [];
  let cursor: number | null = 0;
  for (let page = 0; cursor !== null && page < 100; page++) {
    const answer: Record<string, unknown> = await json(s.call(`${path}${path.includes('?') ? '&' : '?'}limit=${limit}&cursor=${cursor}`));
    rows.push(...(answer[key] as T[]));
    cursor = answer.next_cursor as number | null;
  }
  return rows;
}

it('serves every shard within a few cron runs when there are more than one run takes', () => {
  const shards = Array.from({ length: 10 }, (_, i) => i);
  const minute = 60_000;
  const served = [0, 1, 2].map((m) => cronShards(shards, Date.UTC(2026, 10, 20, 10, m) + 5));
  for (const run of served) expect(run).toHaveLength(4);
  expect(new Set(served.flat()).size).toBe(10);
  expect(cronShards([0, 1, 2], minute)).toEqual([0, 1, 2]);
});

describe('D1 sharded by app', () => {
  let sharded: Side;
  let single: Side;

  beforeEach(async () => {
    sharded = await side(shardedEnv());
    single = await side(singleEnv());
  });

  it('places each app on the shard holding the fewest apps the first time it is seen, and answers with ids that name the shard', async () => {
    const receipts = [];
    for (const app of APPS) {
      const r = await json<{ id: number; outcome: string }>(sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(key, { 'app-id': app })) }));
      receipts.push(r);
    }
    expect(receipts.map((r) => r.id)).toEqual([1, SHARD_ID + 1, 2 * SHARD_ID + 1, 2]);
    const map = await sharded.runtime.db.values<[number, number]>(sql`select app_id, shard from app_shards order by app_id`);
    expect(map).toEqual(APPS.map((app, i) => [app, i % 3]));
    expect([await count(sharded, 0, 'postbacks'), await count(sharded, 1, 'postbacks'), await count(sharded, 2, 'postbacks')]).toEqual([2, 1, 1]);
    // The DB holds no postbacks: only settings and the map.
    expect((await sharded.runtime.db.values<[number]>(sql`select count(*) from postbacks`))[0]![0]).toBe(0);
    // A second postback of an app goes where the first went, and each id reads back its row.
    const again = await json<{ id: number }>(sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(key, { 'app-id': 303 })) }));
    expect(again.id).toBe(2 * SHARD_ID + 2);
    for (const r of [...receipts, again]) expect((await json<{ id: number }>(sharded.call(`/v1/postbacks/${r.id}`))).id).toBe(r.id);
    expect((await sharded.call(`/v1/postbacks/${7 * SHARD_ID + 1}`)).status).toBe(404);

    // What an operator sees: apps per shard, and where given apps are (an app never seen has none).
    expect(await json(sharded.call('/v1/shards?app_id=303,999'))).toEqual({
      shards: [
        { shard: 0, apps: 2, bound: true },
        { shard: 1, apps: 1, bound: true },
        { shard: 2, apps: 1, bound: true },
      ],
      placements: [{ app_id: 303, shard: 2 }],
    });
    // A shard unbound while apps are on it: listed as such, and its apps' writes refused (503,
    // retried by the sender), never written elsewhere.
    forgetShardPlacements();
    const short = await side({ ...shardedEnv(), SHARD_2: undefined });
    expect((await json<{ shards: unknown[] }>(short.call('/v1/shards'))).shards).toContainEqual({ shard: 2, apps: 1, bound: false });
    const refused = await short.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(key, { 'app-id': 303 })) });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).not.toBeNull();
    expect(await count(sharded, 2, 'postbacks')).toBe(2);
  });

  it('gives every report byte for byte as one database does, whatever shards it spans', async () => {
    await fill(single);
    await fill(sharded);
    expect([await count(sharded, 0, 'postbacks'), await count(sharded, 1, 'postbacks'), await count(sharded, 2, 'postbacks')]).toEqual([12, 7, 6]);
    const range = 'from=2026-11-19&to=2026-11-23';
    const queries = [
      `/v1/reports/campaigns?${range}&group_by=date,app_id,campaign,window`,
      `/v1/reports/campaigns?${range}&group_by=date,app_id,campaign,window&format=csv`,
      `/v1/reports/campaigns?${range}&group_by=ad_network_id,conversion_value`,
      `/v1/reports/campaigns?${range}`,
      `/v1/reports/campaigns?${range}&tz=Asia/Tokyo&date_basis=install&group_by=date,ad_network_id`,
      `/v1/reports/campaigns?${range}&app_id=202,404&group_by=app_id,source_identifier`,
      `/v1/reports/events?${range}&group_by=event,app_id`,
      `/v1/reports/mmp?${range}&group_by=date,link_id`,
      `/v1/reports/mmp?${range}&group_by=event&format=csv`,
      `/v1/reports/discrepancies?${range}&skan_date_basis=arrival&group_by=date,app_id`,
      `/v1/reports/discrepancies?${range}&skan_date_basis=arrival`,
      `/v1/reports/discrepancies?${range}&metric=revenue&event=purchase&group_by=app_id`,
      `/v1/reports/copies?${range}&group_by=channel`,
      `/v1/reports/copies?${range}&group_by=date,app_id&format=csv`,
      `/v1/reports/copies?${range}`,
    ];
    for (const query of queries) expect(await body(sharded, query), query).toBe(await body(single, query));
    // The figures are there to compare: not two empty answers.
    const campaigns = JSON.parse(await body(sharded, `/v1/reports/campaigns?${range}`)) as { rows: Array<{ installs: number }> };
    expect(campaigns.rows[0]!.installs).toBe(24);
  });

  it('pages listings across shards with one integer cursor, row for row as one database lists them', async () => {
    await fill(single);
    await fill(sharded);
    // Ids name their shard; click IDs are signed with each database's own click secret.
    const withoutIds = (rows: Array<Record<string, unknown>>) => rows.map(({ id: _, first_id: __, click_id: ___, raw: ____, ...rest }) => rest);
    const byArrival = (rows: Array<Record<string, unknown>>) =>
      [...rows].sort((a, b) => String(a.received_at).localeCompare(String(b.received_at)) || JSON.stringify(a).localeCompare(JSON.stringify(b)));
    for (const [path, key] of [
      ['/v1/postbacks', 'postbacks'],
      ['/v1/mmp-postbacks', 'mmp_postbacks'],
      ['/v1/reported', 'reported'],
    ] as const) {
      const pages = await everyPage<Record<string, unknown>>(sharded, path, key, 4);
      const whole = (await json<Record<string, Array<Record<string, unknown>>>>(sharded.call(`${path}?limit=1000`)))[key]!;
      expect(pages).toEqual(whole);
      // Ids only grow: shard 0's rows, then shard 1's, then shard 2's.
      expect(pages.map((r) => r.id as number)).toEqual([...pages.map((r) => r.id as number)].sort((a, b) => a - b));
      const theirs = (await json<Record<string, Array<Record<string, unknown>>>>(single.call(`${path}?limit=1000`)))[key]!;
      expect(byArrival(withoutIds(pages))).toEqual(byArrival(withoutIds(theirs)));
    }
    // A scoped listing reads only the shard of its app.
    const only202 = await everyPage<{ id: number; app_id: number }>(sharded, '/v1/postbacks?app_id=202', 'postbacks', 2);
    expect(only202.map((r) => r.app_id)).toEqual(Array(only202.length).fill(202));
    expect(only202.every((r) => Math.floor(r.id / SHARD_ID) === 1)).toBe(true);
  });

  it('forwards copies from every shard, and lists and replays their deliveries by the ids it shows', async () => {
    await json(sharded.call('/v1/destinations', { method: 'POST', body: JSON.stringify({ name: 'receiver', url: `${env.RECEIVER_URL}/sharded`, format: 'raw' }) }), 201);
    const before = ((await (await fetch(`${env.RECEIVER_URL}/received`)).json()) as Array<{ url: string }>).filter((r) => r.url === '/sharded').length;
    for (const app of APPS) await json(sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(key, { 'app-id': app })) }));
    // The cron sends every shard's outbox.
    await worker.scheduled(createScheduledController({ cron: '* * * * *', scheduledTime: Date.now() }), shardedEnv());
    const received = ((await (await fetch(`${env.RECEIVER_URL}/received`)).json()) as Array<{ url: string }>).filter((r) => r.url === '/sharded');
    expect(received.length - before).toBe(4);
    const deliveries = await json<{ deliveries: Array<{ id: number; postback_id: number; state: string }> }>(sharded.call('/v1/deliveries?limit=100'));
    expect(deliveries.deliveries.map((d) => [Math.floor(d.id / SHARD_ID), d.state])).toEqual([
      [0, 'delivered'],
      [0, 'delivered'],
      [1, 'delivered'],
      [2, 'delivered'],
    ]);
    for (const d of deliveries.deliveries) expect(Math.floor(d.postback_id / SHARD_ID)).toBe(Math.floor(d.id / SHARD_ID));
    const replay = await json<{ replayed: number }>(
      sharded.call('/v1/deliveries/replay', { method: 'POST', body: JSON.stringify({ ids: deliveries.deliveries.slice(2).map((d) => d.id) }) }),
    );
    expect(replay.replayed).toBe(2);
    const stats = await json<{ delivered: number; pending: number }>(sharded.call('/v1/destinations/1/stats'));
    expect(stats).toMatchObject({ delivered: 2, pending: 2 });
  });

  it("re-derives an app's postbacks on its own shard when its schema changes", async () => {
    clock.at = new Date('2026-11-20T10:00:00Z');
    for (let i = 0; i < 3; i++) await json(sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(key, { 'app-id': 303, 'conversion-value': 9 })) }));
    const events = () => body(sharded, '/v1/reports/events?from=2026-11-19&to=2026-11-21&group_by=event');
    expect(JSON.parse(await events()).rows).toEqual([]);
    await json(sharded.call('/v1/apps/303/schemas', { method: 'POST', body: JSON.stringify({ ...schema, effective_from: '2026-10-01T00:00:00Z' }) }), 201);
    // The change queued its re-derive in DB; the cron hands it to shard 2 and runs it there.
    for (let run = 0; run < 3; run++) await worker.scheduled(createScheduledController({ cron: '* * * * *', scheduledTime: Date.now() }), shardedEnv());
    expect(JSON.parse(await events()).rows.length).toBeGreaterThan(0);
    const jobs = await sharded.runtime.db.values<[number]>(sql`select count(*) from maintenance_jobs where kind = 'rederive' and done_at is null`);
    expect(jobs[0]![0]).toBe(0);
  });

  it('writes a consumer batch in one db.batch() per shard, and retries only the messages of a shard whose write failed', async () => {
    const messages: QueuedMessage[] = [];
    for (let i = 0; i < 12; i++) {
      const raw = JSON.stringify(await skan4Postback(key, { 'app-id': APPS[i % 3] }));
      const prepared = await preparePostback(new TextEncoder().encode(raw), sharded.runtime.deps.verification, new Date(Date.UTC(2026, 10, 20, 10, i)));
      if (!prepared.ok) throw new Error('not a postback');
      messages.push(toMessage({ kind: 'postback', row: prepared.row }));
    }
    // Place the apps first, then watch each shard's database; shard 1 fails its first write.
    for (const app of APPS.slice(0, 3)) await sharded.runtime.shards.place(app);
    const batches: number[][] = [[], [], []];
    let failures = 1;
    const watched = (binding: D1Database, index: number) =>
      new Proxy(binding, {
        get(target, property) {
          if (property === 'batch')
            return (statements: D1PreparedStatement[]) => {
              batches[index]!.push(statements.length);
              return index === 1 && statements.length > 4 && failures-- > 0 ? Promise.reject(new Error('D1_ERROR: injected failure')) : target.batch(statements);
            };
          const value = Reflect.get(target, property);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const bindings = { ...shardedEnv(), SHARD_0: watched(env.SCALE_SHARD_0, 0), SHARD_1: watched(env.SCALE_SHARD_1, 1), SHARD_2: watched(env.SCALE_SHARD_2, 2) };
    const consume = async (sent: QueuedMessage[], using: WorkerEnv) => {
      const batch = createMessageBatch<QueuedMessage>(
        'skanpost-ingest-0',
        sent.map((b, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body: b })),
      );
      const ctx = createExecutionContext();
      await worker.queue(batch as MessageBatch<unknown>, using);
      const result = await getQueueResult(batch, ctx);
      return result.retryMessages.map((m: { msgId: string }) => Number(m.msgId.slice(1))).sort((a: number, b: number) => a - b);
    };
    const retried = await consume(messages, bindings as WorkerEnv);
    // The messages of app 202 (shard 1): every third from the second.
    expect(retried).toEqual([1, 4, 7, 10]);
    expect(batches.map((b) => b.length)).toEqual([1, 1, 1]);
    expect([await count(sharded, 0, 'postbacks'), await count(sharded, 1, 'postbacks'), await count(sharded, 2, 'postbacks')]).toEqual([4, 0, 4]);
    // Everything again: only shard 1's postbacks are new, nothing is counted twice.
    expect(await consume([...messages].reverse(), shardedEnv())).toEqual([]);
    const installs = async (shard: number) => (await sharded.runtime.shards.all[shard]!.db.values<[number]>(sql`select total(installs) from rollups`))[0]![0];
    expect([await installs(0), await installs(1), await installs(2)]).toEqual([4, 4, 4]);
  });
});
