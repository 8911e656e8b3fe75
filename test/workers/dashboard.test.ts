// Dashboard sessions inside workerd on D1: the same contract as on Node.
import { env } from 'cloudflare:test';
import { createApp } from '../../src/http/app.js';
import { createWorkerRuntime, type WorkerRuntime } from '../../src/worker/runtime.js';
import { dashboardContract } from '../support/dashboard-contract.js';
import type { ReconcileHarness } from '../support/reconcile-contract.js';
import { resetTables } from './reset.js';

function workerHarness(): ReconcileHarness {
  const clock = { ms: 0 };
  let runtime: WorkerRuntime;
  let app: ReturnType<typeof createApp>;
  return {
    clock,
    async reset(extraKeys) {
      runtime = await createWorkerRuntime({ ...env, SKANPOST_EXTRA_KEYS: extraKeys }, () => new Date(clock.ms));
      app = createApp(runtime.deps);
      await resetTables(runtime.db);
    },
    fromAddress: (ip) => ({ 'cf-connecting-ip': ip }),
    call: async (method, path, body, headers = {}) => {
      const { authorization, ...rest } = headers;
      const auth: Record<string, string> = authorization === undefined ? { authorization: `Bearer ${env.SKANPOST_ADMIN_KEY}` } : authorization ? { authorization } : {};
      return app.request(`https://skanpost.example${path}`, {
        method,
        headers: { ...auth, ...rest },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
    },
    settleClicks: async () => {},
  };
}

dashboardContract('Workers (D1)', workerHarness, () => env.SKANPOST_ADMIN_KEY!);
