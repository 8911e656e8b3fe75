// The MMP loop on Node: the shared contract through the whole app on SQLite, plus what only Node
// shows (the click batcher's commit, a click ID no mutation passes).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pruneExpired } from '../src/db/retention.js';
import { sendDue } from '../src/forward/sender.js';
import { createApp } from '../src/http/app.js';
import { RateLimiter } from '../src/http/client-guard.js';
import { renderMetrics } from '../src/http/routes/system.js';
import { mintClickId, readClickId } from '../src/mmp/click-id.js';
import { nodeClickDeps } from '../src/node/runtime.js';
import { createTestApp, type TestApp } from './support/app.js';
import { type MmpHarness, mmpContract } from './support/mmp-contract.js';
import { type Partner, startPartner } from './support/partner.js';
import { startServer } from './support/server.js';

const ADMIN = 'mmp-admin-key-0123456789';
const silent = { info() {}, warn() {}, error() {} };

function nodeHarness(): MmpHarness {
  let test: TestApp | undefined;
  let app: ReturnType<typeof createApp>;
  let receiver: Partner | undefined;
  const clock = { ms: 0 };
  const now = () => new Date(clock.ms);
  const build = (secrets: string[]) => {
    // The server's own delay: a click must reach the reports by its timer, not by a test's flush.
    const clicks = nodeClickDeps(test!.writer, secrets, now, silent);
    const deps = { ...test!.deps, ...clicks.deps, guard: { allowlist: [], trustedHeader: 'X-Forwarded-For' }, logger: { ...silent, error: console.error } };
    test!.clickLog = clicks.clickLog;
    app = createApp(deps);
    return deps;
  };
  let deps: ReturnType<typeof build>;
  const h: MmpHarness = {
    clock,
    receiverUrl: '',
    async reset() {
      await test?.close();
      await receiver?.close();
      test = await createTestApp({ adminKey: ADMIN, now });
      receiver = await startPartner();
      h.receiverUrl = receiver.url;
      deps = build([]);
    },
    call: async (method, path, body, headers = {}) =>
      app.request(path, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, ...headers },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      }),
    async settleClicks() {
      const started = performance.now();
      for (let i = 0; i < 100 && test!.clickLog.pending > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      await test!.clickLog.flush(); // nothing is held by now: this only waits for a write in flight
      return performance.now() - started;
    },
    async sendDue() {
      for (let round = 0; round < 5 && (await sendDue({ db: test!.database.db, writer: test!.writer, fetch: globalThis.fetch, now })) > 0; round++);
    },
    received: async () => receiver!.received.map((r) => ({ method: r.method, url: r.url, body: r.body.toString('utf8') })),
    fromAddress: (ip) => ({ 'x-forwarded-for': `192.0.2.66, ${ip}` }),
    async withClickSecrets(secrets) {
      await test!.clickLog.flush();
      deps = build(secrets ? secrets.split(',') : []);
    },
    metricsText: () => renderMetrics(deps),
  };
  return h;
}

mmpContract('Node (SQLite)', nodeHarness);

describe('click IDs', () => {
  const secret = 'a-secret-of-at-least-thirty-two-characters';
  const claim = { linkId: 7, touch: 'click' as const, at: new Date('2026-11-20T10:00:00Z') };

  it('reads back what was signed, with any listed secret', () => {
    const id = mintClickId(claim, secret);
    expect(id).toHaveLength(50);
    expect(readClickId(id, ['other-secret-0123456789-0123456789', secret])).toEqual(claim);
    expect(readClickId(id, ['other-secret-0123456789-0123456789'])).toBeUndefined();
  });

  it('validates no mutation of a valid click ID: a changed, dropped, added or swapped character', () => {
    const id = mintClickId(claim, secret);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const mutation = fc.oneof(
      fc.tuple(fc.constant('set' as const), fc.nat(49), fc.constantFrom(...alphabet)).map(([, at, c]) => id.slice(0, at) + c + id.slice(at + 1)),
      fc.nat(49).map((at) => id.slice(0, at) + id.slice(at + 1)),
      fc.tuple(fc.nat(50), fc.constantFrom(...alphabet)).map(([at, c]) => id.slice(0, at) + c + id.slice(at)),
      fc.tuple(fc.nat(49), fc.nat(49)).map(([a, b]) => {
        const chars = [...id];
        [chars[a], chars[b]] = [chars[b]!, chars[a]!];
        return chars.join('');
      }),
    );
    fc.assert(
      fc.property(mutation, (mutated) => mutated === id || readClickId(mutated, [secret]) === undefined),
      { numRuns: 5000 },
    );
  });
});

describe('the click log on Node', () => {
  it('writes a burst of clicks in few commits, and none is lost when the writer closes', async () => {
    const test = await createTestApp({ adminKey: ADMIN });
    try {
      const partner = await (
        await test.app.request('/v1/mmp-partners', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ name: 'm', preset: 'custom' }) })
      ).json();
      const link = await (
        await test.app.request('/v1/links', {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN}` },
          body: JSON.stringify({
            name: 'l',
            app_id: 1,
            ad_network_id: 'n',
            network_campaign_id: 'c',
            mmp_partner_id: (partner as { id: number }).id,
            target_url: 'https://mmp.example/?c={click_id}',
          }),
        })
      ).json();
      const commitsBefore = test.writer.stats.commits;
      const answers = await Promise.all(Array.from({ length: 500 }, () => test.app.request(`/c/${(link as { id: number }).id}`)));
      expect(answers.every((r) => r.status === 302)).toBe(true);
      expect(test.clickLog.pending).toBe(500);
      expect(await test.clickLog.close()).toBe(0);
      expect(test.writer.stats.commits - commitsBefore).toBeLessThanOrEqual(2);
      expect(test.database.sqlite.prepare('select count(*) as n from clicks').get()).toEqual({ n: 500 });
      expect(test.database.sqlite.prepare('select sum(clicks) as n from mmp_rollups').get()).toEqual({ n: 500 });
    } finally {
      await test.close();
    }
  });
});

describe('the server, with its writer thread', () => {
  it('writes clicks and MMP postbacks on the writer thread, and on SIGTERM writes the clicks still held', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skanpost-mmp-server-'));
    const server = await startServer({ SKANPOST_DB: join(dir, 'db.sqlite'), SKANPOST_ADMIN_KEY: ADMIN });
    try {
      const call = async (method: string, path: string, body?: unknown) =>
        fetch(`${server.url}${path}`, { method, redirect: 'manual', headers: { authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
      const partner = (await (await call('POST', '/v1/mmp-partners', { name: 'm', preset: 'custom' })).json()) as { id: number; token: string };
      const link = (await (
        await call('POST', '/v1/links', {
          name: 'l',
          app_id: 7,
          ad_network_id: 'n',
          network_campaign_id: 'c',
          mmp_partner_id: partner.id,
          target_url: 'https://mmp.example/?c={click_id}',
        })
      ).json()) as { id: number };
      const redirects = await Promise.all(Array.from({ length: 20 }, () => call('GET', `/c/${link.id}`)));
      const clickIds = redirects.map((r) => new URL(r.headers.get('location')!).searchParams.get('c')!);
      const answer = await call('GET', `/mmp/${partner.id}?token=${partner.token}&click_id=${clickIds[0]}&event_name=install`);
      expect(await answer.json()).toMatchObject({ outcome: 'accepted' });
      // Clicks answered just before the stop are written by the shutdown, not lost.
      await Promise.all(Array.from({ length: 5 }, () => call('GET', `/c/${link.id}`)));
      server.child.kill('SIGTERM');
      await server.exited;
      const db = new Database(join(dir, 'db.sqlite'), { readonly: true });
      expect(db.prepare('select count(*) as n from clicks').get()).toEqual({ n: 25 });
      expect(db.prepare('select sum(clicks) as clicks, sum(installs) as installs from mmp_rollups').get()).toEqual({ clicks: 25, installs: 1 });
      db.close();
    } finally {
      await server.killAll();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the MMP tables', () => {
  it('find an install by its click through an index, not a scan of every MMP postback', async () => {
    const test = await createTestApp();
    try {
      const plan = test.database.sqlite
        .prepare("explain query plan select * from mmp_postbacks where partner_id = 1 and click_id = 'c' and event_name = 'install' and outcome = 'accepted' order by id limit 1")
        .all() as Array<{ detail: string }>;
      expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING INDEX mmp_postbacks_click/);
    } finally {
      await test.close();
    }
  });
});

describe('limits and retention', () => {
  it('rate-limits /c, /i and /mmp per address, and counts the refused MMP postbacks', async () => {
    const test = await createTestApp({ adminKey: ADMIN });
    try {
      const app = createApp({ ...test.deps, guard: { allowlist: [], limiter: new RateLimiter(0.001, 2), trustedHeader: 'X-Forwarded-For' } });
      const from = (ip: string) => ({ 'x-forwarded-for': ip });
      const partner = (await (
        await app.request('/v1/mmp-partners', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ name: 'm', preset: 'custom' }) })
      ).json()) as {
        id: number;
        token: string;
      };
      const link = (await (
        await app.request('/v1/links', {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN}` },
          body: JSON.stringify({ name: 'l', app_id: 1, ad_network_id: 'n', network_campaign_id: 'c', mmp_partner_id: partner.id, target_url: 'https://mmp.example/?c={click_id}' }),
        })
      ).json()) as { id: number };
      const statuses = async (path: string, ip: string) => [
        (await app.request(path, { headers: from(ip) })).status,
        (await app.request(path, { headers: from(ip) })).status,
        (await app.request(path, { headers: from(ip) })).status,
      ];
      expect(await statuses(`/c/${link.id}`, '198.51.100.1')).toEqual([302, 302, 429]);
      expect(await statuses(`/i/${link.id}`, '198.51.100.2')).toEqual([204, 204, 429]);
      expect(await statuses(`/mmp/${partner.id}?token=${partner.token}&event_name=install&attributed=0`, '198.51.100.3')).toEqual([200, 200, 429]);
      expect((await app.request(`/c/${link.id}`, { headers: from('198.51.100.4') })).status).toBe(302);
      expect(await renderMetrics(test.deps)).toMatch(/skanpost_mmp_refused_total\{reason="rate_limited"\} 1/);
    } finally {
      await test.close();
    }
  });

  it('prunes clicks past their lookback plus 30 days, and keeps their counts', async () => {
    let now = Date.parse('2026-11-01T00:00:00Z');
    const test = await createTestApp({ adminKey: ADMIN, now: () => new Date(now) });
    try {
      const headers = { authorization: `Bearer ${ADMIN}` };
      const partner = (await (await test.app.request('/v1/mmp-partners', { method: 'POST', headers, body: JSON.stringify({ name: 'm', preset: 'custom' }) })).json()) as {
        id: number;
      };
      const link = (await (
        await test.app.request('/v1/links', {
          method: 'POST',
          headers,
          body: JSON.stringify({
            name: 'l',
            app_id: 1,
            ad_network_id: 'n',
            network_campaign_id: 'c',
            mmp_partner_id: partner.id,
            target_url: 'https://x/?c={click_id}',
            click_lookback_days: 2,
            view_lookback_hours: 1,
          }),
        })
      ).json()) as { id: number };
      await test.app.request(`/c/${link.id}`);
      await test.app.request(`/i/${link.id}`);
      await test.clickLog.flush();
      const count = () => (test.database.sqlite.prepare('select count(*) as n from clicks').get() as { n: number }).n;
      const retention = { unverifiedDays: 90, verifiedDays: undefined };
      now += 31 * 86_400_000 + 2 * 3_600_000; // the impression's hour and 30 days are past, the click's 2 days are not
      expect(await pruneExpired(test.writer, retention, new Date(now))).toBe(1);
      expect(count()).toBe(1);
      now += 2 * 86_400_000;
      expect(await pruneExpired(test.writer, retention, new Date(now))).toBe(1);
      expect(count()).toBe(0);
      expect(test.database.sqlite.prepare('select sum(clicks) as clicks, sum(impressions) as impressions from mmp_rollups').get()).toEqual({ clicks: 1, impressions: 1 });
    } finally {
      await test.close();
    }
  });
});
