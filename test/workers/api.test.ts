// The /v1 API's rules on D1 inside workerd, as on Node: sums that cannot overflow, empty scopes
// refused, scopes enforced on listings, exports that keep the body as stored, safe CSV.
import { env } from 'cloudflare:test';
import { beforeEach, expect, it } from 'vitest';
import fixture from '../../fixtures/parity/postbacks.json' with { type: 'json' };
import { createApp } from '../../src/http/app.js';
import { createWorkerRuntime } from '../../src/worker/runtime.js';
import { PARITY_EXTRA_KEYS } from '../support/parity-scenario.js';
import { resetTables } from './reset.js';

const ADMIN = { authorization: `Bearer ${env.SKANPOST_ADMIN_KEY}`, 'content-type': 'application/json' };
const APP_ID = 525463029;
const clock = new Date('2026-11-02T00:00:00Z');
let app: ReturnType<typeof createApp>;

beforeEach(async () => {
  const runtime = await createWorkerRuntime({ ...env, SKANPOST_EXTRA_KEYS: PARITY_EXTRA_KEYS }, () => clock);
  await resetTables(runtime.db);
  app = createApp(runtime.deps);
});

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = ADMIN) =>
  app.request(`https://skanpost.example${path}`, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
/** Verified SKAN 4.0 postbacks of the parity fixture that carry a fine conversion value. */
const fineValued = fixture.postbacks.filter(
  ({ body }) => (body as Record<string, unknown>).version === '4.0' && 'conversion-value' in body && (body as Record<string, unknown>)['app-id'] === APP_ID,
);

it('sums revenue exactly instead of failing, and refuses a revenue bound past 10^13', async () => {
  const rupiah = { effective_from: '2026-01-01T00:00:00Z', currency: 'IDR', fine: [{ from: 0, to: 63, revenue: { min: 4_999_999_999_999.99, max: 5e12 } }] };
  const bad = await call('POST', `/v1/apps/${APP_ID}/schemas`, { ...rupiah, fine: [{ from: 0, to: 63, revenue: { min: 0, max: 1e308 } }] });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { problems: Array<{ field: string }> }).problems.map((p) => p.field)).toContain('fine.0.revenue.max');
  expect((await call('POST', `/v1/apps/${APP_ID}/schemas`, rupiah)).status).toBe(201);
  expect(fineValued.length).toBeGreaterThanOrEqual(3);
  for (const { body } of fineValued.slice(0, 3)) expect((await call('POST', '/.well-known/skadnetwork/report-attribution/', body, {})).status).toBe(200);
  const json = await call('GET', '/v1/reports/campaigns?from=2026-11-01&to=2026-11-06');
  expect(json.status).toBe(200);
  expect(((await json.json()) as { rows: unknown[] }).rows[0]).toMatchObject({ revenue_min: 14_999_999_999_999.97, revenue_max: 15e12, currency: 'IDR' });
  const csv = await call('GET', '/v1/reports/campaigns?from=2026-11-01&to=2026-11-06&format=csv');
  expect(await csv.text()).toContain(',14999999999999.97,15000000000000,IDR,');
});

it('refuses an empty key scope and stores nothing', async () => {
  for (const scope of [{ app_ids: [] }, { ad_network_ids: [] }]) expect((await call('POST', '/v1/keys', { name: 'x', role: 'analyst', ...scope })).status).toBe(400);
  expect(((await (await call('GET', '/v1/keys')).json()) as { keys: unknown[] }).keys).toEqual([]);
});

it('refuses listings outside the scope, and exports each body as stored', async () => {
  const { body } = fixture.postbacks[0]!;
  const raw = JSON.stringify(body).replace('{', '{"weight":5.0,');
  expect((await call('POST', '/.well-known/skadnetwork/report-attribution/', raw, {})).status).toBe(200);
  const key = (await (await call('POST', '/v1/keys', { name: 'scoped', role: 'analyst', app_ids: [APP_ID] })).json()) as { secret: string };
  const scoped = { authorization: `Bearer ${key.secret}` };
  expect((await call('GET', '/v1/postbacks?app_id=1', undefined, scoped)).status).toBe(403);
  const exported = await (await call('GET', '/v1/postbacks?format=ndjson', undefined, scoped)).text();
  expect(JSON.parse(exported.trim()).raw).toBe(raw);
});

it('writes CSV that no spreadsheet runs as a formula', async () => {
  // A forged body is kept (as invalid): whoever posts it chooses its ad-network-id.
  const forged = { ...fixture.postbacks[0]!.body, 'ad-network-id': '=HYPERLINK("http://evil.example")' };
  expect((await call('POST', '/.well-known/skadnetwork/report-attribution/', forged, {})).status).toBe(200);
  const csv = await (await call('GET', '/v1/reports/campaigns?from=2026-11-01&to=2026-11-06&group_by=ad_network_id&format=csv')).text();
  expect(csv.split('\r\n')[1]).toMatch(/^"'=HYPERLINK\(""http:\/\/evil\.example""\)",/);
});
