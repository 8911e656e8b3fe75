// Moving an app between shards, inside workerd: the same traffic sent to three shards and to one
// database, an app moved on the sharded side while it keeps receiving writes, and every report
// compared byte for byte before, during and after; the source left with none of the app's rows.
import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import schema from '../../fixtures/conversion-schema.json' with { type: 'json' };
import { consumeBatch } from '../../src/ingest/consume.js';
import { preparePostback } from '../../src/ingest/ingest.js';
import { type QueuedMessage, toMessage } from '../../src/ingest/queue.js';
import { advanceMoves, MOVE_SETTLE_MS, type MoveView } from '../../src/maintenance/moves.js';
import worker from '../../src/worker/index.js';
import { forgetShardPlacements, type WorkerEnv } from '../../src/worker/runtime.js';
import { skan4Postback } from '../support/web-signing.js';
import { body, clock, count, fill, json, makeSigningKey, ORIGIN, REPORT_QUERIES, resetSides, type Side, SKAN, shardedEnv, side, signing, singleEnv } from './sharded-fixture.js';

beforeAll(makeSigningKey);
beforeEach(resetSides);

/** The cron's part, with the test's clock: as many slices as `slices` allows. */
const runMoves = (s: Side, slices = 1000) =>
  advanceMoves(
    { settingsDb: s.runtime.db, shards: s.runtime.shards, now: () => clock.at, writeHeld: async (bodies) => (await consumeBatch(bodies, s.runtime.deps)).settled },
    { slices, until: Date.now() + 60_000 },
  );
const cron = (bindings: WorkerEnv) => worker.scheduled(createScheduledController({ cron: '* * * * *', scheduledTime: Date.now() }), bindings);
const moveOf = (s: Side, id: number) => json<MoveView>(s.call(`/v1/shards/moves/${id}`));
const startMove = (s: Side, appId: number, to: number) => json<MoveView>(s.call('/v1/shards/moves', { method: 'POST', body: JSON.stringify({ app_id: appId, to }) }), 202);
const later = (ms: number) => {
  clock.at = new Date(clock.at.getTime() + ms);
};
/** Rows of `appId` in each per-app table of a shard. */
async function rowsOf(s: Side, shard: number, appId: number): Promise<typeof none> {
  const db = s.runtime.shards.all[shard]!.db;
  const out: Record<string, number> = {};
  for (const table of ['postbacks', 'clicks', 'mmp_postbacks', 'rollups', 'rollup_events', 'mmp_rollups', 'reported_figures']) {
    out[table] = (await db.values<[number]>(sql`select count(*) from ${sql.raw(table)} where app_id = ${appId}`))[0]![0];
  }
  out.postback_copies = (await db.values<[number]>(sql`select count(*) from postback_copies c join postbacks p on p.id = c.postback_id where p.app_id = ${appId}`))[0]![0];
  return out as typeof none;
}
const none = { postbacks: 0, clicks: 0, mmp_postbacks: 0, rollups: 0, rollup_events: 0, mmp_rollups: 0, reported_figures: 0, postback_copies: 0 };
const reports = async (s: Side) => Promise.all(REPORT_QUERIES.map((q) => body(s, q)));
/** The reports as of `at` (a report says which days are complete by the clock). */
async function reportsAt(s: Side, at: Date) {
  const now = clock.at;
  clock.at = at;
  try {
    return await reports(s);
  } finally {
    clock.at = now;
  }
}

describe('moving an app between shards', () => {
  let sharded: Side;
  let single: Side;

  beforeEach(async () => {
    sharded = await side(shardedEnv());
    single = await side(singleEnv());
  });

  /** The same request of both sides; their answers' statuses. */
  async function both(send: (s: Side) => Response | Promise<Response>): Promise<[Response, Response]> {
    const answers = [await send(sharded), await send(single)] as [Response, Response];
    for (const s of [sharded, single]) await Promise.all(s.deferred.splice(0));
    return answers;
  }

  it('copies, holds, switches and deletes: every report as one database gives it at each step, the held writes kept, the source emptied', async () => {
    const [filled, filledSingle] = [await fill(sharded), await fill(single)];
    const filledAt = clock.at;
    const before = await reports(sharded);
    expect(before).toEqual(await reports(single));
    const ofApp = await rowsOf(sharded, 2, 303);
    expect(ofApp.postbacks).toBeGreaterThan(0);
    expect(ofApp.clicks).toBe(3);

    const move = await startMove(sharded, 303, 0);
    expect(move).toMatchObject({ app_id: 303, from: 2, to: 0, state: 'copying', held_at: null });
    // A schema change while the copy runs: its re-derive waits for the switch (it would change rows already copied).
    for (const s of [sharded, single]) {
      await json(s.call('/v1/apps/303/schemas', { method: 'POST', body: JSON.stringify({ ...schema, effective_from: '2026-11-21T00:00:00Z' }) }), 201);
    }

    // Two slices: the target holds part of the app, and no report or listing counts it. Two runs at
    // once (a late cron run overlapping the next): one works on the move, the other leaves it.
    const runs = await Promise.all([runMoves(sharded, 2), runMoves(sharded, 2)]);
    expect(runs.filter((n) => n > 0)).toHaveLength(1);
    const partial = await rowsOf(sharded, 0, 303);
    expect(partial.postbacks).toBeGreaterThan(0);
    expect((await moveOf(sharded, move.id)).state).toBe('copying');
    expect(await reportsAt(sharded, filledAt)).toEqual(before);
    const listed = await json<{ postbacks: Array<{ app_id: number }> }>(sharded.call('/v1/postbacks?app_id=303&limit=1000'));
    expect(listed.postbacks).toHaveLength(ofApp.postbacks);

    // The cron finishes the copy and holds the app's writes; its re-derive is still waiting, on no shard yet.
    await cron(shardedEnv());
    const held = await moveOf(sharded, move.id);
    expect(held.state).toBe('holding');
    expect(held.progress.copied).toMatchObject({ postbacks: ofApp.postbacks, clicks: 3, mmp_postbacks: ofApp.mmp_postbacks, rollups: ofApp.rollups });
    const pendingInDb = await sharded.runtime.db.values<[number]>(sql`select count(*) from maintenance_jobs where app_id = 303 and done_at is null`);
    expect(pendingInDb[0]![0]).toBe(1);
    expect(await count(sharded, 2, 'maintenance_jobs')).toBe(0);
    await cron(singleEnv());
    // A new isolate: what the last one remembered of the map would have expired by the final copy.
    forgetShardPlacements();
    sharded = await side(shardedEnv());

    // Writes during the hold: a postback, a click and the MMP install of that click, kept and answered `queued`.
    clock.at = new Date('2026-11-22T05:00:00Z');
    const late = await skan4Postback(signing.key, { 'app-id': 303, 'transaction-id': '00000000-0000-4000-9000-00000000f00d', 'conversion-value': 5 });
    const [queued, stored] = await both((s) => s.app.request(SKAN, { method: 'POST', body: JSON.stringify(late) }));
    expect(await queued.json()).toMatchObject({ id: null, outcome: 'queued', signature: 'verified' });
    expect(await stored.json()).toMatchObject({ outcome: 'stored' });
    const [click, clickSingle] = await both((s) => s.app.request(`${ORIGIN}/c/${(s === sharded ? filled : filledSingle).links[303]}`));
    const clickIds = [click, clickSingle].map((r) => new URL(r.headers.get('location')!).searchParams.get('c')!);
    later(60_000);
    const [mmpQueued, mmpStored] = await both((s) => {
      const { partner } = s === sharded ? filled : filledSingle;
      const install = { token: partner.token, click_id: clickIds[s === sharded ? 0 : 1]!, event_name: 'install', event_id: 'held-install' };
      return s.app.request(`${ORIGIN}/mmp/${partner.id}?${new URLSearchParams(install)}`);
    });
    expect(await mmpQueued.json()).toMatchObject({ id: null, outcome: 'queued' });
    expect(await mmpStored.json()).toMatchObject({ outcome: 'accepted' });
    expect(await sharded.runtime.db.values(sql`select app_id, json_extract(body, '$.kind') from held_messages order by id`)).toEqual([
      [303, 'postback'],
      [303, 'click'],
      [303, 'mmp'],
    ]);
    expect(await reportsAt(sharded, filledAt)).toEqual(before);

    // The final copy waits until cached placements have expired; then the check and the switch.
    clock.at = new Date(new Date(held.held_at!).getTime() + MOVE_SETTLE_MS - 1000);
    await runMoves(sharded);
    expect((await moveOf(sharded, move.id)).state).toBe('holding');
    later(2000);
    await runMoves(sharded);
    const switched = await moveOf(sharded, move.id);
    expect(switched.state).toBe('deleting');
    expect(switched.progress.heldWrites).toBe(3);
    for (const [table, { source, target }] of Object.entries(switched.progress.verified!)) expect(target, table).toBe(source);
    expect(await sharded.runtime.db.values(sql`select shard, held_since from app_shards where app_id = 303`)).toEqual([[0, null]]);
    expect(await count(sharded, 0, 'hidden_apps')).toBe(0);
    expect(await count(sharded, 2, 'hidden_apps')).toBe(1);
    // The held writes are on the target, counted once; the MMP install found its click there.
    expect(await sharded.runtime.db.values(sql`select count(*) from held_messages`)).toEqual([[0]]);
    const installed = await json<{ mmp_postbacks: Array<{ outcome: string; event_id: string }> }>(sharded.call('/v1/mmp-postbacks?app_id=303&limit=1000'));
    expect(installed.mmp_postbacks.find((m) => m.event_id === 'held-install')?.outcome).toBe('accepted');
    // The re-derive goes where the app now is, and runs there.
    await cron(shardedEnv());
    expect(await sharded.runtime.shards.all[0]!.db.values(sql`select count(*) from maintenance_jobs where app_id = 303 and done_at is not null`)).toEqual([[1]]);
    expect(await count(sharded, 2, 'maintenance_jobs')).toBe(0);
    const after = await reportsAt(sharded, filledAt);
    expect(after).toEqual(await reportsAt(single, filledAt));
    expect(after).not.toEqual(before);

    // The source's rows go once cached placements have expired again.
    later(MOVE_SETTLE_MS);
    await runMoves(sharded);
    const done = await moveOf(sharded, move.id);
    expect(done.state).toBe('done');
    expect(done.progress.deleted).toMatchObject({ postbacks: ofApp.postbacks, clicks: 3 });
    expect(await rowsOf(sharded, 2, 303)).toEqual(none);
    expect((await rowsOf(sharded, 0, 303)).postbacks).toBe(ofApp.postbacks + 1);
    for (const shard of [0, 2]) for (const table of ['hidden_apps', 'move_cursors']) expect(await count(sharded, shard, table), `${table} on ${shard}`).toBe(0);
    expect(await reports(sharded)).toEqual(await reports(single));
    expect(await json(sharded.call('/v1/shards?app_id=303'))).toMatchObject({
      shards: [
        { shard: 0, apps: 3 },
        { shard: 1, apps: 1 },
        { shard: 2, apps: 0 },
      ],
      placements: [{ app_id: 303, shard: 0 }],
    });
    // New writes of the app go to its new shard.
    const next = await json<{ id: number; outcome: string }>(
      sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(signing.key, { 'app-id': 303 })) }),
    );
    expect(next).toMatchObject({ outcome: 'stored' });
    expect(next.id).toBeLessThan(2 ** 40);
  });

  it('copies again a bucket a late write changed after it was copied, and moves delivery history once the deliveries settle', async () => {
    const receiver = `${env.RECEIVER_URL}/moves-${Date.now()}`;
    for (const s of [sharded, single]) {
      await json(s.call('/v1/destinations', { method: 'POST', body: JSON.stringify({ name: 'live', url: receiver, format: 'raw' }) }), 201);
      await json(s.call('/v1/destinations', { method: 'POST', body: JSON.stringify({ name: 'paused', url: `${receiver}/paused`, format: 'raw' }) }), 201);
      await json(s.call('/v1/destinations/2/pause', { method: 'POST' }));
    }
    const bodies = [];
    for (let i = 0; i < 4; i++)
      bodies.push(await skan4Postback(signing.key, { 'app-id': 303, 'transaction-id': `00000000-0000-4000-9000-00000000000${i}`, 'conversion-value': i }));
    for (const [i, b] of bodies.entries()) {
      clock.at = new Date(Date.UTC(2026, 10, 20, 5, i));
      await both((s) => s.app.request(SKAN, { method: 'POST', body: JSON.stringify(b) }));
    }
    await cron(shardedEnv());
    const stats = async () => Promise.all([1, 2].map((d) => json<Record<string, number>>(sharded.call(`/v1/destinations/${d}/stats`))));
    const [live, paused] = await stats();
    expect(live).toMatchObject({ delivered: 4, pending: 0 });
    expect(paused).toMatchObject({ delivered: 0, pending: 4 });

    // App 303 is the only one: on shard 0.
    const move = await startMove(sharded, 303, 1);
    expect(move.from).toBe(0);
    clock.at = new Date('2026-11-25T00:00:00Z');
    await runMoves(sharded);
    expect((await moveOf(sharded, move.id)).state).toBe('holding');
    // An isolate that read the placement before the hold still writes to the source, into a bucket
    // already copied (a dead letter replayed days later does the same).
    clock.at = new Date(Date.UTC(2026, 10, 20, 5, 1));
    const replayed = await skan4Postback(signing.key, { 'app-id': 303, 'transaction-id': '00000000-0000-4000-9000-00000000beef', 'conversion-value': 1 });
    const [late] = await both((s) => s.app.request(SKAN, { method: 'POST', body: JSON.stringify(replayed) }));
    expect(await late.json()).toMatchObject({ outcome: 'stored' });
    expect(await count(sharded, 0, 'postbacks')).toBe(5);

    clock.at = new Date(new Date('2026-11-25T00:00:00Z').getTime() + MOVE_SETTLE_MS + 1);
    await runMoves(sharded);
    const switched = await moveOf(sharded, move.id);
    expect(switched.state).toBe('deleting');
    expect(switched.progress.repairedBuckets).toBeGreaterThan(0);
    expect(switched.progress.verified!.postbacks).toEqual({ source: 5, target: 5 });
    expect(await reports(sharded)).toEqual(await reports(single));

    // The rows whose copies wait (the paused destination's, and the late postback's two) stay on the
    // source, out of every read, until sent.
    later(MOVE_SETTLE_MS);
    await runMoves(sharded);
    const waiting = await moveOf(sharded, move.id);
    expect(waiting.state).toBe('deleting');
    expect(waiting.progress.pendingDeliveries).toBe(6);
    expect(await count(sharded, 0, 'postbacks')).toBe(5);
    expect(await count(sharded, 0, 'rollups')).toBe(0);
    expect(await reports(sharded)).toEqual(await reports(single));

    await json(sharded.call('/v1/destinations/2/resume', { method: 'POST' }));
    await cron(shardedEnv());
    const sent = ((await (await fetch(`${env.RECEIVER_URL}/received`)).json()) as Array<{ url: string }>).filter((r) => r.url.startsWith(new URL(receiver).pathname));
    expect(sent.filter((r) => r.url.endsWith('/paused'))).toHaveLength(5);
    await runMoves(sharded);
    expect((await moveOf(sharded, move.id)).state).toBe('done');
    expect(await rowsOf(sharded, 0, 303)).toEqual(none);
    expect(await count(sharded, 0, 'deliveries')).toBe(0);
    // Each delivery's history is on the target, pointing at the row it sent.
    const history = await sharded.runtime.shards.all[1]!.db.values(
      sql`select d.destination_id, d.state, p.transaction_id from deliveries d join postbacks p on p.id = d.postback_id order by p.transaction_id, d.destination_id`,
    );
    expect(history).toHaveLength(10);
    expect(history.every((h) => (h as unknown[])[1] === 'delivered')).toBe(true);
    expect(await stats()).toEqual([expect.objectContaining({ delivered: 5, pending: 0 }), expect.objectContaining({ delivered: 5, pending: 0 })]);
  });

  it('aborts when the counts differ at the switch: the target emptied, the app where it was, its held writes written there', async () => {
    clock.at = new Date('2026-11-20T05:00:00Z');
    for (let i = 0; i < 3; i++) await json(sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(signing.key, { 'app-id': 303 })) }));
    await json(sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(signing.key, { 'app-id': 101 })) }));
    const where = (await sharded.runtime.shards.placements([303])).get(303)!;
    const to = where === 0 ? 1 : 0;
    const move = await startMove(sharded, 303, to);
    await runMoves(sharded);
    expect((await moveOf(sharded, move.id)).state).toBe('holding');
    forgetShardPlacements();
    sharded = await side(shardedEnv());

    // Held: a postback at the edge, and a queued message the consumer takes (acknowledged, kept).
    const edge = await json<{ outcome: string }>(sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(signing.key, { 'app-id': 303 })) }));
    expect(edge.outcome).toBe('queued');
    const raw = JSON.stringify(await skan4Postback(signing.key, { 'app-id': 303 }));
    const prepared = await preparePostback(new TextEncoder().encode(raw), sharded.runtime.deps.verification, clock.at);
    if (!prepared.ok) throw new Error('not a postback');
    const batch = createMessageBatch<QueuedMessage>('skanpost-ingest-0', [
      { id: 'held-1', timestamp: new Date(), attempts: 1, body: toMessage({ kind: 'postback', row: prepared.row }) },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, shardedEnv());
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toEqual(['held-1']);
    expect(await sharded.runtime.db.values(sql`select count(*) from held_messages where app_id = 303`)).toEqual([[2]]);

    // A row of the app on the target that the copy did not put there.
    await sharded.runtime.shards.all[to]!.db.run(
      sql`insert into clicks (click_id, link_id, app_id, touch, clicked_at, expires_at, imported) values ('stray', 1, 303, 'click', 0, 9999999999999, 1)`,
    );
    later(MOVE_SETTLE_MS + 1);
    await runMoves(sharded);
    const failed = await moveOf(sharded, move.id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('clicks 0 on the source, 1 on the target');
    expect(await rowsOf(sharded, to, 303)).toEqual(none);
    expect(await count(sharded, to, 'hidden_apps')).toBe(0);
    expect(await sharded.runtime.db.values(sql`select shard, held_since from app_shards where app_id = 303`)).toEqual([[where, null]]);
    // The held writes went where the app still is; the app takes writes again.
    expect(await sharded.runtime.db.values(sql`select count(*) from held_messages`)).toEqual([[0]]);
    expect((await rowsOf(sharded, where, 303)).postbacks).toBe(5);
    const after = await json<{ outcome: string }>(sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(signing.key, { 'app-id': 303 })) }));
    expect(after.outcome).toBe('stored');
    // And it can be moved again.
    expect((await startMove(sharded, 303, to)).state).toBe('copying');
  });

  it('goes on with the other moves when one cannot advance, and leaves the failed one to the next run', async () => {
    clock.at = new Date('2026-11-20T05:00:00Z');
    // 101 on shard 0, 202 on shard 1.
    for (const app of [101, 202]) await json(sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(signing.key, { 'app-id': app })) }));
    const blocked = await startMove(sharded, 101, 2);
    const free = await startMove(sharded, 202, 0);
    // A deployment that lost its SHARD_2 binding: the first move cannot run, the second does.
    const short = await side({ ...shardedEnv(), SHARD_2: undefined } as WorkerEnv);
    await expect(runMoves(short)).rejects.toThrow(`move ${blocked.id}: SHARD_2 is not bound`);
    expect((await moveOf(sharded, free.id)).state).toBe('holding');
    const [lease] = await sharded.runtime.db.values<[number | null]>(sql`select leased_until from shard_moves where id = ${blocked.id}`);
    expect(lease).toEqual([null]);
    expect((await moveOf(sharded, blocked.id)).state).toBe('copying');
    // With the binding back, it runs.
    await runMoves(sharded);
    expect((await moveOf(sharded, blocked.id)).state).toBe('holding');
  });

  it('refuses what cannot be moved with a reason, and lists moves', async () => {
    await json(sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(signing.key, { 'app-id': 101 })) }));
    await json(single.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(signing.key, { 'app-id': 101 })) }));
    const refused = async (s: Side, payload: unknown, status: number, reason: string) => {
      const r = await s.call('/v1/shards/moves', { method: 'POST', body: JSON.stringify(payload) });
      const problem = (await r.json()) as { reason: string; detail: string };
      expect(r.status, problem.detail).toBe(status);
      expect(problem.reason).toBe(reason);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      return problem;
    };
    await refused(single, { app_id: 101, to: 1 }, 409, 'single_database');
    await refused(sharded, { app_id: 101, to: 3 }, 422, 'shard_not_bound');
    await refused(sharded, { app_id: 999, to: 1 }, 404, 'unknown_app');
    await refused(sharded, { app_id: 101, to: 0 }, 409, 'already_there');
    await refused(sharded, { app_id: 101, to: 1, now: true }, 400, 'invalid_body');
    await refused(sharded, { app_id: '101', to: 1 }, 400, 'invalid_body');
    const first = await startMove(sharded, 101, 1);
    await refused(sharded, { app_id: 101, to: 2 }, 409, 'move_in_progress');
    // A shard holding rows of the app already (a stray copy): nothing is started.
    await sharded.runtime.shards.all[2]!.db.run(sql`insert into rollups (arrival_bucket, install_bucket, protocol, environment, signature, ad_network_id, app_id, campaign, campaign_name,
      network_campaign_id, source_identifier, window, fidelity_type, redownload, did_win, version, conversion_type, ad_interaction_type, country_code, conversion_value,
      coarse_conversion_value, source_app_id, source_domain, currency) values (1, 1, 'skan', 'production', 'verified', 'n', 7, '', '', '', '', 0, -1, -1, -1, '', '', '', '', -1, '', -1, '', '')`);
    await json(sharded.app.request(SKAN, { method: 'POST', body: JSON.stringify(await skan4Postback(signing.key, { 'app-id': 7 })) }));
    // Placed on shard 1 (shards 1 and 2 hold none; the lower first).
    expect((await sharded.runtime.shards.placements([7])).get(7)).toBe(1);
    await refused(sharded, { app_id: 7, to: 2 }, 409, 'target_not_empty');

    expect(await json<{ moves: MoveView[] }>(sharded.call('/v1/shards/moves'))).toEqual({ moves: [first] });
    expect((await sharded.call('/v1/shards/moves?state=done')).status).toBe(400);
    expect((await sharded.call('/v1/shards/moves/99')).status).toBe(404);
    const analyst = await json<{ secret: string }>(sharded.call('/v1/keys', { method: 'POST', body: JSON.stringify({ name: 'a', role: 'analyst' }) }), 201);
    expect((await sharded.app.request(`${ORIGIN}/v1/shards/moves`, { headers: { authorization: `Bearer ${analyst.secret}` } })).status).toBe(403);
  });
});
