// Discrepancies and copy reconciliation inside workerd on D1: the same contract as on Node.
import { env } from 'cloudflare:test';
import { createApp } from '../../src/http/app.js';
import { createWorkerRuntime, type WorkerRuntime } from '../../src/worker/runtime.js';
import { type ReconcileHarness, reconcileContract } from '../support/reconcile-contract.js';
import { resetTables } from './reset.js';

const ORIGIN = 'https://skanpost.example';

function workerHarness(): ReconcileHarness {
  const clock = { ms: 0 };
  const deferred: Array<Promise<unknown>> = [];
  let runtime: WorkerRuntime;
  let app: ReturnType<typeof createApp>;
  return {
    clock,
    async reset(extraKeys, allowlist) {
      runtime = await createWorkerRuntime(
        { ...env, SKANPOST_EXTRA_KEYS: extraKeys, ...(allowlist ? { SKANPOST_ALLOWLIST: allowlist } : {}) },
        () => new Date(clock.ms),
        (work) => deferred.push(work),
      );
      app = createApp(runtime.deps);
      await resetTables(runtime.db);
    },
    call: async (method, path, body, headers = {}) => {
      const { authorization, ...rest } = headers;
      const auth: Record<string, string> = authorization === undefined ? { authorization: `Bearer ${env.SKANPOST_ADMIN_KEY}` } : authorization ? { authorization } : {};
      return app.request(`${ORIGIN}${path}`, {
        method,
        headers: { ...auth, ...rest },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
    },
    fromAddress: (ip) => ({ 'cf-connecting-ip': ip }),
    async settleClicks() {
      await Promise.all(deferred.splice(0));
    },
  };
}

reconcileContract('Workers (D1)', workerHarness);
