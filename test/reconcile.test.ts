// Discrepancies and copy reconciliation on Node: the shared contract through the whole app on
// SQLite; the real server, whose writer and reader threads take the copies; the gap arithmetic.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllowlist } from '../src/http/client-guard.js';
import { gapPct } from '../src/report/discrepancies.js';
import { createTestApp, type TestApp } from './support/app.js';
import { type ReconcileHarness, reconcileContract } from './support/reconcile-contract.js';
import { startServer } from './support/server.js';
import { generateWebKey, signSkan4 } from './support/web-signing.js';

const ADMIN = 'reconcile-admin-key-0123456789';

function nodeHarness(): ReconcileHarness {
  let test: TestApp | undefined;
  const clock = { ms: 0 };
  return {
    clock,
    async reset(extraKeys, allowlist) {
      await test?.close();
      test = await createTestApp({ extraKeys, adminKey: ADMIN, now: () => new Date(clock.ms) });
      if (allowlist) test.deps.guard = { allowlist: parseAllowlist(allowlist), trustedHeader: 'X-Forwarded-For' };
    },
    fromAddress: (ip) => ({ 'x-forwarded-for': ip }),
    call(method, path, body, headers = {}) {
      const { authorization, ...rest } = headers;
      const auth: Record<string, string> = authorization === undefined ? { authorization: `Bearer ${ADMIN}` } : authorization ? { authorization } : {};
      return Promise.resolve(
        test!.app.request(path, {
          method,
          headers: { ...auth, ...rest },
          ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
        }),
      );
    },
    settleClicks: () => test!.clickLog.flush(),
  };
}

reconcileContract('Node (SQLite)', nodeHarness);

describe('gapPct', () => {
  it('is (source − reference) / reference in percent, one decimal; between ranges, the nearest points', () => {
    expect(gapPct([10, 10], [11, 11])).toBe(-9.1);
    expect(gapPct([12, 12], [10, 10])).toBe(20);
    expect(gapPct([3, 15], [12, 12])).toBe(0);
    expect(gapPct([20, 20], [3, 15])).toBe(55.6);
    expect(gapPct([1, 2], [3, 15])).toBe(-11.1);
    expect(gapPct([5, 5], [0, 0])).toBeNull();
  });
});

describe('the server, with its writer and reader threads', () => {
  it('records a relayed copy written on the writer thread, and reports it from a reader thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skanpost-reconcile-server-'));
    const key = await generateWebKey();
    const server = await startServer({ SKANPOST_DB: join(dir, 'db.sqlite'), SKANPOST_ADMIN_KEY: ADMIN, SKANPOST_EXTRA_KEYS: key.spkiBase64 });
    try {
      const admin = { authorization: `Bearer ${ADMIN}` };
      const relay = (await (await fetch(`${server.url}/v1/relay-keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'net-a' }) })).json()) as { key: string };
      const body = JSON.stringify(
        await signSkan4(
          {
            version: '4.0',
            'ad-network-id': 'net.skadnetwork',
            'source-identifier': '39',
            'app-id': 7,
            'transaction-id': '00000000-0000-4000-8000-00000000abcd',
            redownload: false,
            'fidelity-type': 1,
            'did-win': true,
            'postback-sequence-index': 0,
          },
          key,
        ),
      );
      const path = `${server.url}/.well-known/skadnetwork/report-attribution/`;
      expect((await (await fetch(path, { method: 'POST', body })).json()) as object).toMatchObject({ outcome: 'stored', signature: 'verified' });
      expect((await (await fetch(path, { method: 'POST', body, headers: { authorization: `Bearer ${relay.key}` } })).json()) as object).toMatchObject({ outcome: 'duplicate' });
      const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
      const report = await fetch(`${server.url}/v1/reports/copies?from=${day(-1)}&to=${day(1)}&group_by=channel`, { headers: admin });
      expect(((await report.json()) as { rows: object[] }).rows).toEqual([
        expect.objectContaining({ channel: 'direct', transactions: 1, both: 1 }),
        expect.objectContaining({ channel: 'relay:net-a', transactions: 1, both: 1 }),
      ]);
    } finally {
      await server.killAll();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
