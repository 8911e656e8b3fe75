// Dashboard sessions and their security, written once and run on Node (test/dashboard.test.ts) and
// inside workerd (test/workers/dashboard.test.ts): the sign-in, the cookie's flags and lifetime,
// CSRF, the sign-in rate limit, a deleted key's sessions, the CSP, and /v1 staying Bearer-only.
// Runtime-neutral. What a person sees is tested in a real browser (test/browser/).
import { beforeEach, describe, expect, it } from 'vitest';
import type { ReconcileHarness } from './reconcile-contract.js';

const START = Date.parse('2026-11-20T10:00:00Z');

export function dashboardContract(name: string, harness: () => ReconcileHarness, adminKey: () => string): void {
  let h: ReconcileHarness;
  const anonymous = (method: string, path: string, body?: string, headers: Record<string, string> = {}) => h.call(method, path, body, { authorization: '', ...headers });
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
  /** Signs in with `secret` from `ip`; the answer and the cookie it set. */
  const signIn = async (secret: string, ip = '198.51.100.1', headers: Record<string, string> = {}) => {
    const response = await anonymous('POST', '/dashboard/sign-in', form({ api_key: secret }), { ...FORM, ...h.fromAddress(ip), ...headers });
    const setCookie = response.headers.get('set-cookie') ?? '';
    return { response, setCookie, cookie: /skanpost_session=([^;]*)/.exec(setCookie)?.[1] ?? '' };
  };
  const withCookie = (cookie: string) => ({ cookie: `skanpost_session=${cookie}` });
  const csrfOf = async (cookie: string) => /name="csrf" value="([^"]+)"/.exec(await (await anonymous('GET', '/dashboard', undefined, withCookie(cookie))).text())?.[1];

  describe(`dashboard sessions on ${name}`, () => {
    beforeEach(async () => {
      h = harness();
      h.clock.ms = START;
      await h.reset('');
    });

    it('redirects / to the dashboard and an anonymous visitor to the sign-in, under a strict CSP', async () => {
      for (const path of ['/', '/dashboard', '/dashboard/campaigns', '/dashboard/sign-in']) {
        const r = await anonymous('GET', path);
        const csp = r.headers.get('content-security-policy') ?? '';
        expect(csp, path).toContain("script-src 'self'");
        expect(csp, path).not.toContain('unsafe-inline');
        expect(csp, path).toContain("frame-ancestors 'none'");
      }
      expect((await anonymous('GET', '/')).headers.get('location')).toBe('/dashboard');
      expect((await anonymous('GET', '/dashboard')).headers.get('location')).toBe('/dashboard/sign-in');
      const page = await anonymous('GET', '/dashboard/sign-in');
      expect(await page.text()).toMatch(/<input type="password" name="api_key"/);
      expect((await anonymous('GET', '/dashboard/api/reports/campaigns')).status).toBe(401);
    });

    it('signs in with an API key into an HttpOnly, SameSite=Strict cookie that lasts 12 hours', async () => {
      expect((await signIn('skp_not-a-key')).response.status).toBe(401);
      const huge = await anonymous('POST', '/dashboard/sign-in', form({ api_key: 'x'.repeat(70_000) }), FORM);
      expect(huge.status).toBe(413);
      const { response, setCookie, cookie } = await signIn(adminKey());
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe('/dashboard');
      expect(setCookie).toMatch(/HttpOnly/);
      expect(setCookie).toMatch(/SameSite=Strict/);
      expect(setCookie).toMatch(/Max-Age=43200/);
      // Secure when the request came over HTTPS: the Worker's always do; this Node request did not.
      expect(/Secure/.test(setCookie)).toBe(name.startsWith('Workers'));
      // The cookie names the key, never holds it.
      expect(cookie).not.toContain(adminKey());
      expect((await anonymous('GET', '/dashboard', undefined, withCookie(cookie))).status).toBe(200);
      const report = await anonymous('GET', '/dashboard/api/reports/campaigns?from=2026-11-20&to=2026-11-20', undefined, withCookie(cookie));
      expect(report.status).toBe(200);
      // /v1 stays Bearer-only: the session is no key there.
      expect((await anonymous('GET', '/v1/reports/campaigns', undefined, withCookie(cookie))).status).toBe(401);
      // A tampered cookie, and the cookie after 12 hours, are no session.
      expect((await anonymous('GET', '/dashboard', undefined, withCookie(cookie.replace(/^0/, '1')))).headers.get('location')).toBe('/dashboard/sign-in');
      h.clock.ms += 12 * 3_600_000 + 1000;
      expect((await anonymous('GET', '/dashboard', undefined, withCookie(cookie))).headers.get('location')).toBe('/dashboard/sign-in');
    });

    it('sets Secure when the trusted proxy says the request came over HTTPS', async () => {
      expect((await signIn(adminKey(), '198.51.100.2', { 'x-forwarded-proto': 'https' })).setCookie).toMatch(/Secure/);
    });

    it('ends the sessions of a deleted key, and shows a scoped key only its scope', async () => {
      const created = (await (await h.call('POST', '/v1/keys', { name: 'one app', role: 'analyst', app_ids: [42] })).json()) as { id: number; secret: string };
      const { cookie } = await signIn(created.secret);
      const inScope = await anonymous('GET', '/dashboard/api/reports/campaigns?app_id=42', undefined, withCookie(cookie));
      expect(inScope.status).toBe(200);
      expect((await anonymous('GET', '/dashboard/api/reports/campaigns?app_id=7', undefined, withCookie(cookie))).status).toBe(403);
      expect((await h.call('DELETE', `/v1/keys/${created.id}`)).status).toBe(204);
      expect((await anonymous('GET', '/dashboard', undefined, withCookie(cookie))).headers.get('location')).toBe('/dashboard/sign-in');
    });

    it('refuses a change without the session CSRF token, and signs out with it', async () => {
      const { cookie } = await signIn(adminKey());
      const forged = await anonymous('POST', '/dashboard/sign-out', form({}), { ...FORM, ...withCookie(cookie) });
      expect(forged.status).toBe(403);
      const token = await csrfOf(cookie);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const out = await anonymous('POST', '/dashboard/sign-out', form({ csrf: token! }), { ...FORM, ...withCookie(cookie) });
      expect(out.status).toBe(303);
      expect(out.headers.get('set-cookie')).toMatch(/skanpost_session=;.*Max-Age=0/);
    });

    it("serves the dashboard's and /docs' scripts and styles from its own origin", async () => {
      for (const [name, type, text] of [
        ['uplot.js', 'javascript', 'uPlot'],
        ['uplot.css', 'text/css', '.uplot'],
        ['dashboard.js', 'javascript', 'skanpostCharts'],
        ['dashboard.css', 'text/css', '.totals'],
      ]) {
        const r = await anonymous('GET', `/dashboard/assets/${name}`);
        expect(r.status, name).toBe(200);
        expect(r.headers.get('content-type'), name).toContain(type);
        expect(await r.text(), name).toContain(text);
      }
      expect((await anonymous('GET', '/dashboard/assets/nope.js')).status).toBe(404);
      // /docs too: Swagger UI from this origin, under the same CSP.
      const docs = await anonymous('GET', '/docs');
      expect(docs.headers.get('content-security-policy')).toContain("script-src 'self'");
      for (const asset of ['docs.js', 'swagger-ui-bundle.js', 'swagger-ui.css']) expect((await anonymous('GET', `/docs/assets/${asset}`)).status, asset).toBe(200);
    });

    it("acts on forwarding through the API's routes: an unscoped admin with the CSRF token only", async () => {
      const { cookie } = await signIn(adminKey());
      const listed = await anonymous('GET', '/dashboard/api/v1/destinations', undefined, withCookie(cookie));
      expect(listed.status).toBe(200);
      expect(await listed.json()).toEqual({ destinations: [] });
      const replay = JSON.stringify({ ids: [] });
      const JSON_TYPE = { 'content-type': 'application/json' };
      expect((await anonymous('POST', '/dashboard/api/v1/deliveries/replay', replay, { ...JSON_TYPE, ...withCookie(cookie) })).status).toBe(403);
      const token = (await csrfOf(cookie))!;
      const replayed = await anonymous('POST', '/dashboard/api/v1/deliveries/replay', replay, { ...JSON_TYPE, ...withCookie(cookie), 'x-csrf-token': token });
      expect(await replayed.json()).toEqual({ replayed: 0 });
      // A scoped admin manages no destination, in the dashboard as in the API.
      const scoped = (await (await h.call('POST', '/v1/keys', { name: 'scoped admin', role: 'admin', app_ids: [42] })).json()) as { secret: string };
      const theirs = await signIn(scoped.secret, '198.51.100.9');
      expect((await anonymous('GET', '/dashboard/api/v1/destinations', undefined, withCookie(theirs.cookie))).status).toBe(403);
      expect(await (await anonymous('GET', '/dashboard/forwarding', undefined, withCookie(theirs.cookie))).text()).toContain('admin key without a scope');
    });

    it("changes settings through the API's routes, with the API's checks: CSRF, role, and a refused schema's problems", async () => {
      const { cookie } = await signIn(adminKey());
      const token = (await csrfOf(cookie))!;
      const asAdmin = { 'content-type': 'application/json', ...withCookie(cookie), 'x-csrf-token': token };
      const bad = await anonymous(
        'POST',
        '/dashboard/api/v1/apps/7/schemas',
        JSON.stringify({ effective_from: '2026-01-01T00:00:00Z', currency: 'USD', fine: [{ from: 3, to: 1, events: [] }] }),
        asAdmin,
      );
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { problems: Array<{ field: string }> }).problems[0]!.field).toMatch(/^fine\.0/);
      const mapping = { ad_network_id: 'n.skadnetwork', app_id: 7, source_identifier: '39', name: 'Spring' };
      expect((await anonymous('POST', '/dashboard/api/v1/campaigns', JSON.stringify(mapping), asAdmin)).status).toBe(201);
      expect((await anonymous('POST', '/dashboard/api/v1/campaigns', JSON.stringify(mapping), { ...asAdmin, 'x-csrf-token': 'forged' })).status).toBe(403);
      const listed = (await (await anonymous('GET', '/dashboard/api/v1/campaigns', undefined, withCookie(cookie))).json()) as { campaigns: unknown[] };
      expect(listed.campaigns).toHaveLength(1);
      // An analyst's session reads but changes nothing.
      const analyst = (await (await h.call('POST', '/v1/keys', { name: 'reader', role: 'analyst' })).json()) as { secret: string };
      const reader = await signIn(analyst.secret, '198.51.100.10');
      const readerToken = (await csrfOf(reader.cookie))!;
      const refused = await anonymous('POST', '/dashboard/api/v1/campaigns', JSON.stringify(mapping), {
        'content-type': 'application/json',
        ...withCookie(reader.cookie),
        'x-csrf-token': readerToken,
      });
      expect(refused.status).toBe(403);
    });

    it('rate-limits sign-in attempts per address', async () => {
      for (let i = 0; i < 10; i++) expect((await signIn('skp_wrong', '203.0.113.5')).response.status).toBe(401);
      const limited = await signIn(adminKey(), '203.0.113.5');
      expect(limited.response.status).toBe(429);
      expect(Number(limited.response.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another address is not held up.
      expect((await signIn(adminKey(), '203.0.113.6')).response.status).toBe(303);
    });
  });
}
