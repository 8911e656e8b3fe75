// Discrepancies and copy reconciliation on Node: the shared contract through the whole app on
// SQLite, plus unit checks of the gap arithmetic.
import { describe, expect, it } from 'vitest';
import { gapPct } from '../src/report/discrepancies.js';
import { createTestApp, type TestApp } from './support/app.js';
import { type ReconcileHarness, reconcileContract } from './support/reconcile-contract.js';

const ADMIN = 'reconcile-admin-key-0123456789';

function nodeHarness(): ReconcileHarness {
  let test: TestApp | undefined;
  const clock = { ms: 0 };
  return {
    clock,
    async reset(extraKeys) {
      await test?.close();
      test = await createTestApp({ extraKeys, adminKey: ADMIN, now: () => new Date(clock.ms) });
    },
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
