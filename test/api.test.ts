// The /v1 API: roles and scopes on every route, postback listing and export, schema and campaign
// management, and an OpenAPI document that lists every route.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/db/api-keys.js';
import { listPostbacks } from '../src/db/postbacks.js';
import { createTestApp, type TestApp } from './support/app.js';
import { generateKey, signSkan, skanBody } from './support/signing.js';

const key = generateKey('P-256');
const ADMIN = 'bootstrap-admin-key-0123456789';
const schema = JSON.parse(readFileSync(new URL('../fixtures/conversion-schema.json', import.meta.url), 'utf8'));
const campaign = { ad_network_id: 'example123.skadnetwork', app_id: 100, source_identifier: '39', name: 'Spring' };

let app: TestApp;
let keys: Record<'analyst' | 'admin' | 'scoped' | 'scopedAdmin', string>;
beforeEach(async () => {
  app = await createTestApp({ extraKeys: key.spkiBase64, adminKey: ADMIN });
  const make = (input: Parameters<typeof createApiKey>[1]) => app.writer.run((tx) => createApiKey(tx.db, input, new Date())).then((k) => k.secret);
  keys = {
    analyst: await make({ name: 'analyst', role: 'analyst' }),
    admin: await make({ name: 'admin', role: 'admin' }),
    scoped: await make({ name: 'advertiser 100', role: 'analyst', app_ids: [100] }),
    scopedAdmin: await make({ name: 'network admin', role: 'admin', app_ids: [100] }),
  };
  await app.post(signSkan(skanBody('4.0', { 'app-id': 100 }), key, '4.0'));
  await app.post(signSkan(skanBody('4.0', { 'app-id': 200 }), key, '4.0'));
});
afterEach(async () => {
  await app.close();
});

const call = (method: string, path: string, secret?: string, body?: unknown) =>
  app.app.request(path, {
    method,
    headers: { ...(secret ? { Authorization: `Bearer ${secret}` } : {}), 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

// Every /v1 route with the least role it needs.
const ROUTES: Array<[string, string, 'analyst' | 'admin', unknown?]> = [
  ['GET', '/v1/reports/campaigns', 'analyst'],
  ['GET', '/v1/reports/events', 'analyst'],
  ['GET', '/v1/postbacks', 'analyst'],
  ['GET', '/v1/postbacks/1', 'analyst'],
  ['GET', '/v1/apps/100/schemas', 'analyst'],
  ['POST', '/v1/apps/100/schemas', 'admin', schema],
  ['GET', '/v1/apps/100/schemas/1', 'analyst'],
  ['DELETE', '/v1/apps/100/schemas/1', 'admin'],
  ['GET', '/v1/campaigns', 'analyst'],
  ['POST', '/v1/campaigns', 'admin', campaign],
  ['DELETE', '/v1/campaigns/1', 'admin'],
  ['GET', '/v1/keys', 'admin'],
  ['POST', '/v1/keys', 'admin', { name: 'x', role: 'analyst' }],
  ['DELETE', '/v1/keys/1', 'admin'],
];

describe('roles', () => {
  it.each(ROUTES)('%s %s: 401 without a key or with an unknown one', async (method, path, _role, body) => {
    for (const secret of [undefined, 'skp_not-a-real-key']) {
      const r = await call(method, path, secret, body);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toContain('Bearer');
      expect(await r.json()).toMatchObject({ reason: 'unauthorized' });
    }
  });

  it.each(ROUTES)('%s %s: needs the %s role', async (method, path, role, body) => {
    const asAnalyst = await call(method, path, keys.analyst, body);
    if (role === 'admin') {
      expect(asAnalyst.status).toBe(403);
      expect(await asAnalyst.json()).toMatchObject({ reason: 'forbidden' });
    } else {
      expect([401, 403]).not.toContain(asAnalyst.status);
    }
    for (const secret of [keys.admin, ADMIN]) expect((await call(method, path, secret, body)).status).not.toBe(403);
  });

  it('the bootstrap key is compared whole, not by prefix', async () => {
    expect((await call('GET', '/v1/keys', ADMIN.slice(0, -1))).status).toBe(401);
    expect((await call('GET', '/v1/keys', `${ADMIN}x`)).status).toBe(401);
  });
});

describe('scopes', () => {
  it('reports are restricted to the key scope, and asking outside it is refused', async () => {
    const rows = async (secret: string, q = '') =>
      (await (await call('GET', `/v1/reports/campaigns?group_by=app_id${q}`, secret)).json()).rows?.map((r: { app_id: number }) => r.app_id);
    expect(await rows(keys.analyst)).toEqual([100, 200]);
    expect(await rows(keys.scoped)).toEqual([100]);
    expect((await call('GET', '/v1/reports/campaigns?app_id=200', keys.scoped)).status).toBe(403);
    expect((await call('GET', '/v1/reports/events?app_id=100,200', keys.scoped)).status).toBe(403);
  });

  it('postbacks are restricted to the key scope', async () => {
    const list = await (await call('GET', '/v1/postbacks', keys.scoped)).json();
    expect(list.postbacks.map((p: { app_id: number }) => p.app_id)).toEqual([100]);
    expect((await call('GET', '/v1/postbacks/2', keys.scoped)).status).toBe(404);
    expect((await call('GET', '/v1/postbacks/1', keys.scoped)).status).toBe(200);
    // Asking outside the scope is refused, as in reports, for the listing and for the export.
    for (const query of ['app_id=200', 'app_id=100,200', 'app_id=200&format=ndjson']) {
      const r = await call('GET', `/v1/postbacks?${query}`, keys.scoped);
      expect(r.status).toBe(403);
      expect(await r.json()).toMatchObject({ reason: 'out_of_scope' });
    }
    expect((await call('GET', '/v1/postbacks?app_id=100', keys.scoped)).status).toBe(200);
  });

  it('schemas and campaigns of other apps are out of reach', async () => {
    expect((await call('GET', '/v1/apps/200/schemas', keys.scoped)).status).toBe(403);
    expect((await call('POST', '/v1/apps/200/schemas', keys.scopedAdmin, schema)).status).toBe(403);
    expect((await call('POST', '/v1/apps/100/schemas', keys.scopedAdmin, schema)).status).toBe(201);
    expect((await call('POST', '/v1/campaigns', keys.scopedAdmin, { ...campaign, app_id: 200 })).status).toBe(403);
    await call('POST', '/v1/campaigns', keys.admin, { ...campaign, app_id: 200 });
    await call('POST', '/v1/campaigns', keys.admin, campaign);
    const visible = await (await call('GET', '/v1/campaigns', keys.scoped)).json();
    expect(visible.campaigns.map((m: { app_id: number }) => m.app_id)).toEqual([100]);
  });

  it('a scoped admin cannot manage forwarding or read metrics, which span every app', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/destinations'],
      ['POST', '/v1/destinations', { name: 'leak', url: 'http://127.0.0.1:9/' }],
      ['GET', '/v1/deliveries'],
      ['POST', '/v1/deliveries/replay', { state: 'dead' }],
      ['GET', '/metrics'],
      ['GET', '/v1/shards'],
      ['GET', '/v1/shards/moves'],
      ['POST', '/v1/shards/moves', { app_id: 100, to: 1 }],
    ] as Array<[string, string, unknown?]>) {
      const r = await call(method, path, keys.scopedAdmin, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(await r.json()).toMatchObject({ reason: 'out_of_scope' });
      expect((await call(method, path, keys.admin, body)).status).not.toBe(403);
    }
  });

  it("lists a network's postbacks from their index in id order, and no app a move hides", async () => {
    const listing = listPostbacks(app.database.db, { adNetworkIds: ['net.a'] }, 0, 100) as unknown as { toSQL(): { sql: string; params: unknown[] } };
    const query = listing.toSQL();
    const plan = app.database.sqlite.prepare(`explain query plan ${query.sql}`).all(...query.params) as Array<{ detail: string }>;
    const steps = plan.map((p) => p.detail).join('\n');
    expect(steps).toMatch(/SEARCH postbacks USING INDEX postbacks_network \(ad_network_id=\? AND id>\?\)/);
    expect(steps).not.toMatch(/TEMP B-TREE/);
    expect(query.sql).toContain('hidden_apps');
  });

  it('lists one shard on Node: the database, with no map to count apps in', async () => {
    expect(await (await call('GET', '/v1/shards?app_id=100', keys.admin)).json()).toEqual({
      shards: [{ shard: 0, apps: null, bound: true }],
      placements: [{ app_id: 100, shard: 0 }],
    });
    expect((await call('GET', '/v1/shards?app=1', keys.admin)).status).toBe(400);
    // Nothing to move an app between: refused with its reason, and no move listed.
    const move = await call('POST', '/v1/shards/moves', keys.admin, { app_id: 100, to: 1 });
    expect(move.status).toBe(409);
    expect(await move.json()).toMatchObject({ reason: 'single_database' });
    expect(await (await call('GET', '/v1/shards/moves', keys.admin)).json()).toEqual({ moves: [] });
  });

  it('a scoped admin sees and revokes only keys inside its scope', async () => {
    const listed = await (await call('GET', '/v1/keys', keys.scopedAdmin)).json();
    expect(listed.keys.map((k: { name: string }) => k.name).sort()).toEqual(['advertiser 100', 'network admin']);
    expect((await call('DELETE', '/v1/keys/2', keys.scopedAdmin)).status).toBe(404); // the unscoped admin key
    expect((await call('GET', '/v1/keys', keys.admin)).status).toBe(200);
    expect((await call('DELETE', '/v1/keys/3', keys.scopedAdmin)).status).toBe(204); // the app-100 analyst key
  });

  it('a scoped admin can only create keys inside its scope', async () => {
    expect((await call('POST', '/v1/keys', keys.scopedAdmin, { name: 'wide', role: 'analyst' })).status).toBe(403);
    expect((await call('POST', '/v1/keys', keys.scopedAdmin, { name: 'ok', role: 'analyst', app_ids: [100] })).status).toBe(201);
  });
});

describe('keys', () => {
  it('shows the secret once, stores only its hash, and revokes', async () => {
    const created = await (await call('POST', '/v1/keys', ADMIN, { name: 'mmp', role: 'analyst', ad_network_ids: ['example123.skadnetwork'] })).json();
    expect(created.secret).toMatch(/^skp_[A-Za-z0-9_-]{43}$/);
    const listed = await (await call('GET', '/v1/keys', ADMIN)).json();
    expect(JSON.stringify(listed)).not.toContain(created.secret);
    expect(JSON.stringify(app.database.sqlite.prepare('select * from api_keys').all())).not.toContain(created.secret);
    expect((await call('GET', '/v1/reports/campaigns', created.secret)).status).toBe(200);
    expect((await call('DELETE', `/v1/keys/${created.id}`, ADMIN)).status).toBe(204);
    expect((await call('GET', '/v1/reports/campaigns', created.secret)).status).toBe(401);
  });

  it.each([
    [{ name: '', role: 'analyst' }, 'name'],
    [{ name: 'x', role: 'owner' }, 'role'],
    [{ name: 'x', role: 'analyst', app_ids: ['100'] }, 'app_ids.0'],
    [{ name: 'x', role: 'analyst', extra: 1 }, '(body)'],
    // An empty scope is no scope: refused, never stored as "every app".
    [{ name: 'x', role: 'analyst', app_ids: [] }, 'app_ids'],
    [{ name: 'x', role: 'admin', ad_network_ids: [] }, 'ad_network_ids'],
  ])('refuses %j', async (body, field) => {
    const r = await call('POST', '/v1/keys', ADMIN, body);
    expect(r.status).toBe(400);
    expect((await r.json()).problems.map((p: { field: string }) => p.field)).toContain(field);
    expect(app.database.sqlite.prepare('select count(*) as n from api_keys').get()).toEqual({ n: 4 });
  });
});

describe('postbacks API', () => {
  it('pages with a cursor and filters', async () => {
    for (let i = 0; i < 3; i++) await app.post(signSkan(skanBody('4.0', { 'app-id': 100 }), key, '4.0'));
    const first = await (await call('GET', '/v1/postbacks?app_id=100&limit=2', keys.analyst)).json();
    expect(first.postbacks.map((p: { id: number }) => p.id)).toEqual([1, 3]);
    const second = await (await call('GET', `/v1/postbacks?app_id=100&limit=2&cursor=${first.next_cursor}`, keys.analyst)).json();
    expect(second.postbacks.map((p: { id: number }) => p.id)).toEqual([4, 5]);
  });

  it.each([
    ['/v1/postbacks?signature=bogus', 'signature'],
    ['/v1/postbacks?colour=red', 'colour'],
    ['/v1/postbacks?since=yesterday', 'since'],
    ['/v1/postbacks?limit=0', 'limit'],
    ['/v1/reports/campaigns?cursor=5', 'cursor'],
    ['/v1/reports/events?limit=5', 'limit'],
    ['/v1/deliveries?state=lost', 'state'],
    ['/v1/deliveries?colour=red', 'colour'],
    // Numbers are digits: coercion would read these as 0, 1000 and 16.
    ['/v1/postbacks?cursor=', 'cursor'],
    ['/v1/postbacks?cursor=1e3', 'cursor'],
    ['/v1/postbacks?limit=0x10', 'limit'],
    ['/v1/deliveries?limit=1e3', 'limit'],
    ['/v1/deliveries?destination=-1', 'destination'],
  ])('%s is a 400 naming %s', async (path, parameter) => {
    const r = await call('GET', path, ADMIN);
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ reason: 'invalid_parameter', parameter });
  });

  it.each(['/v1/postbacks/1e0', '/v1/postbacks/0x1', '/v1/postbacks/%20', '/v1/keys/1.0', '/v1/destinations/-1'])('%s names nothing: 404', async (path) => {
    const r = await call(path.startsWith('/v1/keys') || path.startsWith('/v1/destinations') ? 'DELETE' : 'GET', path, ADMIN);
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ reason: 'not_found' });
  });

  it('since and until take a day as well as a time', async () => {
    const ids = async (q: string) => (await (await call('GET', `/v1/postbacks?${q}`, keys.analyst)).json()).postbacks.map((p: { id: number }) => p.id);
    expect(await ids('since=2026-11-25')).toEqual([1, 2]);
    expect(await ids('since=2026-11-26')).toEqual([]);
    expect(await ids('until=2026-11-25')).toEqual([]);
    expect(await ids('since=2026-11-25T12:00:00Z&until=2026-11-26')).toEqual([1, 2]);
  });

  it('shows one postback with raw body, fields, verdict and decode', async () => {
    const one = await (await call('GET', '/v1/postbacks/1', keys.analyst)).json();
    expect(one).toMatchObject({ id: 1, signature: 'verified', outcome: 'stored', app_id: 100, campaign: '39', reasons: [] });
    expect(JSON.parse(one.body)['app-id']).toBe(100);
    expect(one.installed_at).toMatch(/Z$/);
    expect(one.decode).toBeNull();
  });

  it('decode objects carry snake_case keys beside the deprecated camelCase ones', async () => {
    expect((await call('POST', '/v1/apps/100/schemas', ADMIN, schema)).status).toBe(201);
    await app.post(signSkan(skanBody('4.0', { 'app-id': 100, 'conversion-value': 12 }), key, '4.0'));
    const { runPendingJobs } = await import('../src/maintenance/jobs.js');
    const { DEFAULT_INSTALL_MODEL } = await import('../src/conversion/install-date.js');
    await runPendingJobs(app.database.db, app.writer, DEFAULT_INSTALL_MODEL, () => new Date());
    const [decoded] = (await (await call('GET', '/v1/postbacks?app_id=100', ADMIN)).json()).postbacks.filter((p: { decode: unknown }) => p.decode);
    expect(decoded.decode).toEqual({
      schema_version: 1,
      schemaVersion: 1,
      currency: 'USD',
      events: [{ name: 'purchase', min: 1, max: 1 }],
      revenue_min_micros: 990_000,
      revenueMinMicros: 990_000,
      revenue_max_micros: 9_990_000,
      revenueMaxMicros: 9_990_000,
    });
  });

  it('exports NDJSON envelopes of received_at and body', async () => {
    const r = await call('GET', '/v1/postbacks?format=ndjson', keys.analyst);
    expect(r.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await r.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual({ received_at: '2026-11-25T12:00:00.000Z', raw: expect.stringContaining('"app-id":100'), body: expect.objectContaining({ 'app-id': 100 }) });
  });
});

describe('schemas and campaigns', () => {
  it('adds, reads and deletes schema versions, with clear 400s', async () => {
    const created = await (await call('POST', '/v1/apps/100/schemas', ADMIN, schema)).json();
    expect(created).toMatchObject({ app_id: 100, version: 1, effective_from: '2026-01-01T00:00:00.000Z' });
    expect((await (await call('POST', '/v1/apps/100/schemas', ADMIN, schema)).json()).version).toBe(2);
    expect((await (await call('GET', '/v1/apps/100/schemas', keys.analyst)).json()).schemas).toHaveLength(2);
    expect((await call('GET', '/v1/apps/100/schemas/2', keys.analyst)).status).toBe(200);
    expect((await call('DELETE', '/v1/apps/100/schemas/2', ADMIN)).status).toBe(204);
    expect((await call('GET', '/v1/apps/100/schemas/2', keys.analyst)).status).toBe(404);
    const bad = await call('POST', '/v1/apps/100/schemas', ADMIN, { ...schema, currency: 'dollars' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).problems[0].field).toBe('currency');
    const dup = await app.app.request('/v1/apps/100/schemas', { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` }, body: '{"currency":"USD","currency":"EUR"}' });
    expect((await dup.json()).detail).toMatch(/duplicate key "currency"/);
  });

  it('refuses request bodies over 64 KiB', async () => {
    const r = await call('POST', '/v1/campaigns', ADMIN, { ...campaign, name: 'x'.repeat(70_000) });
    expect(r.status).toBe(413);
  });

  it('validates campaign mappings', async () => {
    const r = await call('POST', '/v1/campaigns', ADMIN, { ...campaign, source_identifier: '12345' });
    expect(r.status).toBe(400);
    const period = await call('POST', '/v1/campaigns', ADMIN, { ...campaign, effective_from: '2026-02-01T00:00:00Z', effective_to: '2026-01-01T00:00:00Z' });
    expect((await period.json()).problems[0].field).toBe('effective_to');
  });
});

describe('OpenAPI', () => {
  it('lists every route the app serves', async () => {
    const doc = await (await app.app.request('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    // Trailing slashes aside: the ingest paths are served with and without one.
    const norm = (method: string, path: string) => `${method.toUpperCase()} ${path.replace(/:(\w+)/g, '{$1}').replace(/\/$/, '')}`;
    const documented = new Set(Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) => Object.keys(ops).map((m) => norm(m, path))));
    // The document itself, its viewer and the dashboard (pages for people, and the API's own report
    // routes served again for a session) are the only routes not described in it.
    const served = app.app.routes
      .filter((r) => r.method !== 'ALL' && !['/openapi.json', '/docs', '/docs/assets/:name', '/'].includes(r.path) && !r.path.startsWith('/dashboard'))
      .map((r) => norm(r.method, r.path));
    expect(served.length).toBeGreaterThan(15);
    const missing = [...new Set(served)].filter((route) => !documented.has(route));
    expect(missing).toEqual([]);
  });

  it('serves interactive docs from its own origin, under a CSP without inline scripts', async () => {
    const r = await app.app.request('/docs');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
    const page = await r.text();
    expect(page).not.toMatch(/https?:\/\//);
    expect(page).not.toMatch(/<script>/);
    for (const asset of ['swagger-ui-bundle.js', 'swagger-ui.css', 'docs.js']) expect(page).toContain(`/docs/assets/${asset}`);
    const init = await app.app.request('/docs/assets/docs.js');
    expect(await init.text()).toContain("url: '/openapi.json'");
    const bundle = await app.app.request('/docs/assets/swagger-ui-bundle.js');
    expect(bundle.headers.get('content-type')).toContain('javascript');
    expect((await bundle.text()).length).toBeGreaterThan(500_000);
    expect((await app.app.request('/docs/assets/..%2Fpackage.json')).status).toBe(404);
  });
});
