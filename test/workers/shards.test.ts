// D1 sharded by app, inside workerd: DB holds the settings and the shard map, SHARD_0…2 each app's
// rows. The same requests made of a single database and of three shards give the same answers:
// every report byte for byte, every listing row for row (ids aside: they name their shard).
import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import schema from '../../fixtures/conversion-schema.json' with { type: 'json' };
import { preparePostback } from '../../src/ingest/ingest.js';
import { type QueuedMessage, toMessage } from '../../src/ingest/queue.js';
import worker, { cronShards } from '../../src/worker/index.js';
import { forgetShardPlacements, type WorkerEnv } from '../../src/worker/runtime.js';
import { skan4Postback, type WebKey } from '../support/web-signing.js';
import {
  APPS,
  body,
  clock,
  count,
  everyPage,
  fill,
  json,
  makeSigningKey,
  RANGE,
  REPORT_QUERIES,
  resetSides,
  SHARD_ID,
  type Side,
  SKAN,
  shardedEnv,
  side,
  signing,
  singleEnv,
} from './sharded-fixture.js';

let key: WebKey;

beforeAll(async () => {
  await makeSigningKey();
  key = signing.key;
});

beforeEach(resetSides);

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
    for (const query of REPORT_QUERIES) expect(await body(sharded, query), query).toBe(await body(single, query));
    // The figures are there to compare: not two empty answers.
    const campaigns = JSON.parse(await body(sharded, `/v1/reports/campaigns?${RANGE}`)) as { rows: Array<{ installs: number }> };
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
