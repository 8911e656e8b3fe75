// The sharded deployment of the workerd tests and the traffic they send it: DB with SHARD_0…2
// beside a single database, each side an app over a Worker runtime with a clock the test sets, and
// the same requests for both (shards.test.ts compares them, moves.test.ts moves apps under them).
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import schema from '../../fixtures/conversion-schema.json' with { type: 'json' };
import { createApp } from '../../src/http/app.js';
import { createWorkerRuntime, forgetShardPlacements, type WorkerEnv, type WorkerRuntime } from '../../src/worker/runtime.js';
import { generateWebKey, skan4Postback, type WebKey } from '../support/web-signing.js';
import { resetTables } from './reset.js';

export const ORIGIN = 'https://skanpost.example';
export const SKAN = `${ORIGIN}/.well-known/skadnetwork/report-attribution/`;
export const ADMIN = { authorization: `Bearer ${env.SKANPOST_ADMIN_KEY}`, 'content-type': 'application/json' };
/** Placed in this order on an empty map: 0, 1, 2, then 0 again (the fewest apps, lowest index first). */
export const APPS = [101, 202, 303, 404];
export const SHARD_ID = 2 ** 40;

/** The key postbacks are signed with (SKANPOST_EXTRA_KEYS of both sides); made once per file. */
export const signing: { key: WebKey } = { key: undefined as unknown as WebKey };
export const makeSigningKey = async () => {
  signing.key = await generateWebKey();
};
export const clock = { at: new Date('2026-11-20T00:00:00Z') };

export const shardedEnv = (): WorkerEnv =>
  ({
    ...env,
    DB: env.SCALE_DB,
    SHARD_0: env.SCALE_SHARD_0,
    SHARD_1: env.SCALE_SHARD_1,
    SHARD_2: env.SCALE_SHARD_2,
    SKANPOST_EXTRA_KEYS: signing.key.spkiBase64,
  }) as WorkerEnv;
export const singleEnv = (): WorkerEnv => ({ ...env, DB: env.SCALE_SINGLE, SKANPOST_EXTRA_KEYS: signing.key.spkiBase64 }) as WorkerEnv;

/** Both deployments' databases emptied, and what this isolate remembers of the shard map forgotten. */
export async function resetSides(): Promise<void> {
  forgetShardPlacements();
  for (const bindings of [shardedEnv(), singleEnv()]) {
    const runtime = await createWorkerRuntime(bindings);
    await resetTables(runtime.db);
    for (const shard of runtime.shards.all) await resetTables(shard.db);
  }
}

export interface Side {
  runtime: WorkerRuntime;
  app: ReturnType<typeof createApp>;
  deferred: Array<Promise<unknown>>;
  call(path: string, init?: RequestInit): Response | Promise<Response>;
}

export async function side(bindings: WorkerEnv): Promise<Side> {
  const deferred: Array<Promise<unknown>> = [];
  const runtime = await createWorkerRuntime(
    bindings,
    () => clock.at,
    (work) => deferred.push(work),
  );
  const app = createApp(runtime.deps);
  return { runtime, app, deferred, call: (path, init = {}) => app.request(`${ORIGIN}${path}`, { ...init, headers: { ...ADMIN, ...init.headers } }) };
}

export async function json<T>(response: Response | Promise<Response>, status = 200): Promise<T> {
  const r = await response;
  const text = await r.text();
  expect(r.status, text).toBe(status);
  return JSON.parse(text) as T;
}

export const count = async (s: Side, shard: number, table: string) => (await s.runtime.shards.all[shard]!.db.values<[number]>(sql.raw(`select count(*) from ${table}`)))[0]![0];

/** Every report kind, as JSON and CSV, over the days `fill` sends. */
export const RANGE = 'from=2026-11-19&to=2026-11-23';
export const REPORT_QUERIES = [
  `/v1/reports/campaigns?${RANGE}&group_by=date,app_id,campaign,window`,
  `/v1/reports/campaigns?${RANGE}&group_by=date,app_id,campaign,window&format=csv`,
  `/v1/reports/campaigns?${RANGE}&group_by=ad_network_id,conversion_value`,
  `/v1/reports/campaigns?${RANGE}`,
  `/v1/reports/campaigns?${RANGE}&tz=Asia/Tokyo&date_basis=install&group_by=date,ad_network_id`,
  `/v1/reports/campaigns?${RANGE}&app_id=202,404&group_by=app_id,source_identifier`,
  `/v1/reports/events?${RANGE}&group_by=event,app_id`,
  `/v1/reports/mmp?${RANGE}&group_by=date,link_id`,
  `/v1/reports/mmp?${RANGE}&group_by=event&format=csv`,
  `/v1/reports/discrepancies?${RANGE}&skan_date_basis=arrival&group_by=date,app_id`,
  `/v1/reports/discrepancies?${RANGE}&skan_date_basis=arrival`,
  `/v1/reports/discrepancies?${RANGE}&metric=revenue&event=purchase&group_by=app_id`,
  `/v1/reports/copies?${RANGE}&group_by=channel`,
  `/v1/reports/copies?${RANGE}&group_by=date,app_id&format=csv`,
  `/v1/reports/copies?${RANGE}`,
];

/**
 * The same traffic for both sides: settings, direct and relayed postbacks of four apps over three
 * days (a conflicting copy among them), clicks and MMP postbacks, and uploaded figures.
 */
export async function fill(s: Side): Promise<{ partner: { id: number; token: string }; links: Record<number, number> }> {
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
      await skan4Postback(signing.key, {
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
    const copy = i === 5 ? await skan4Postback(signing.key, { ...body, 'conversion-value': 63 }) : body;
    await json(s.app.request(SKAN, { method: 'POST', body: JSON.stringify(copy), headers: { authorization: `Bearer ${relay.key}` } }));
  }

  clock.at = new Date('2026-11-20T08:00:00Z');
  const partner = await json<{ id: number; token: string }>(s.call('/v1/mmp-partners', { method: 'POST', body: JSON.stringify({ name: 'MMP', preset: 'custom' }) }), 201);
  const links: Record<number, number> = {};
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
    links[app] = link.id;
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
  return { partner, links };
}

/** The answer without its wall-clock time. */
export async function body(s: Side, path: string): Promise<string> {
  const r = await s.call(path);
  const text = await r.text();
  expect(r.status, `${path}: ${text}`).toBe(200);
  if (!(r.headers.get('content-type') ?? '').includes('json')) return text;
  const parsed = JSON.parse(text) as { meta?: Record<string, unknown> };
  delete parsed.meta?.generated_at;
  return JSON.stringify(parsed);
}

/** Every page of a listing, cursor after cursor (bounded). */
export async function everyPage<T>(s: Side, path: string, key: string, limit: number): Promise<T[]> {
  const rows: T[] = [];
  let cursor: number | null = 0;
  for (let page = 0; cursor !== null && page < 100; page++) {
    const answer: Record<string, unknown> = await json(s.call(`${path}${path.includes('?') ? '&' : '?'}limit=${limit}&cursor=${cursor}`));
    rows.push(...(answer[key] as T[]));
    cursor = answer.next_cursor as number | null;
  }
  return rows;
}
