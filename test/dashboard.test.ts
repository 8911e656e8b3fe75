// Dashboard sessions on Node: the shared contract through the whole app on SQLite, behind a proxy
// that sets X-Forwarded-For; and what depends on that trust.
import { expect, it } from 'vitest';
import { parseAllowlist } from '../src/http/client-guard.js';
import { createTestApp, type TestApp } from './support/app.js';
import { dashboardContract } from './support/dashboard-contract.js';
import type { ReconcileHarness } from './support/reconcile-contract.js';

const ADMIN = 'dashboard-admin-key-0123456789';

function nodeHarness(trustedHeader: string | null = 'X-Forwarded-For'): ReconcileHarness & { test: () => TestApp } {
  let test: TestApp | undefined;
  const clock = { ms: 0 };
  return {
    clock,
    test: () => test!,
    async reset(extraKeys) {
      await test?.close();
      test = await createTestApp({ extraKeys, adminKey: ADMIN, now: () => new Date(clock.ms) });
      test.deps.guard = { allowlist: parseAllowlist(''), ...(trustedHeader ? { trustedHeader } : {}) };
    },
    fromAddress: (ip) => ({ 'x-forwarded-for': ip }),
    call(method, path, body, headers = {}) {
      const { authorization, ...rest } = headers;
      const auth: Record<string, string> = authorization === undefined ? { authorization: `Bearer ${ADMIN}` } : authorization ? { authorization } : {};
      return Promise.resolve(
        test!.app.request(path, { method, headers: { ...auth, ...rest }, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) }),
      );
    },
    settleClicks: () => test!.clickLog.flush(),
  };
}

dashboardContract('Node (SQLite)', nodeHarness, () => ADMIN);

it('takes X-Forwarded-Proto only from a trusted proxy: without one, the cookie is not marked Secure', async () => {
  const h = nodeHarness(null);
  h.clock.ms = Date.parse('2026-11-20T10:00:00Z');
  await h.reset('');
  const r = await h.call('POST', '/dashboard/sign-in', new URLSearchParams({ api_key: ADMIN }).toString(), {
    authorization: '',
    'content-type': 'application/x-www-form-urlencoded',
    'x-forwarded-proto': 'https',
  });
  expect(r.status).toBe(303);
  expect(r.headers.get('set-cookie')).not.toMatch(/Secure/);
  // Directly over HTTPS it is.
  const direct = await h.test().app.request('https://skanpost.example/dashboard/sign-in', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ api_key: ADMIN }).toString(),
  });
  expect(direct.headers.get('set-cookie')).toMatch(/Secure/);
  await h.test().close();
});

it('keeps the dashboard JavaScript within 100 KB gzipped', async () => {
  const { gzipSync } = await import('node:zlib');
  const { staticAssets } = await import('../src/node/assets.js');
  const scripts = [...staticAssets()].filter(([path]) => path.startsWith('dashboard/') && path.endsWith('.js'));
  expect(scripts.map(([path]) => path).sort()).toEqual(['dashboard/assets/dashboard.js', 'dashboard/assets/uplot.js']);
  const gzipped = scripts.reduce((sum, [, asset]) => sum + gzipSync(asset.body, { level: 9 }).byteLength, 0);
  expect(gzipped).toBeLessThan(100 * 1024);
});
