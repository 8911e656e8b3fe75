// The MMP loop inside workerd on D1: the same contract as on Node, with clicks written after the
// answer as waitUntil would, and copies sent to the receiver on 127.0.0.1.
import { env } from 'cloudflare:test';
import { sendDue } from '../../src/forward/sender.js';
import { createApp } from '../../src/http/app.js';
import { renderMetrics } from '../../src/http/routes/system.js';
import { createWorkerRuntime, type WorkerRuntime } from '../../src/worker/runtime.js';
import { type MmpHarness, mmpContract } from '../support/mmp-contract.js';
import { resetTables } from './reset.js';

const ORIGIN = 'https://skanpost.example';

function workerHarness(): MmpHarness {
  const clock = { ms: 0 };
  const deferred: Array<Promise<unknown>> = [];
  let runtime: WorkerRuntime;
  let app: ReturnType<typeof createApp>;
  const build = async (clickSecret: string | undefined) => {
    runtime = await createWorkerRuntime(
      { ...env, ...(clickSecret ? { SKANPOST_CLICK_SECRET: clickSecret } : {}) },
      () => new Date(clock.ms),
      (work) => deferred.push(work),
    );
    app = createApp(runtime.deps);
  };
  return {
    clock,
    receiverUrl: env.RECEIVER_URL,
    async reset() {
      await build(undefined);
      await resetTables(runtime.db);
    },
    call: async (method, path, body, headers = {}) =>
      app.request(`${ORIGIN}${path}`, {
        method,
        headers: { authorization: `Bearer ${env.SKANPOST_ADMIN_KEY}`, ...headers },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      }),
    async settleClicks() {
      const started = performance.now();
      await Promise.all(deferred.splice(0));
      return performance.now() - started;
    },
    async sendDue() {
      for (
        let round = 0;
        round < 5 && (await sendDue({ db: runtime.db, writer: runtime.writer, fetch: (input, init) => fetch(input, init), now: () => new Date(clock.ms) })) > 0;
        round++
      );
    },
    received: async () => (await fetch(`${env.RECEIVER_URL}/received`)).json(),
    fromAddress: (ip) => ({ 'cf-connecting-ip': ip }),
    withClickSecrets: (secrets) => build(secrets),
    metricsText: () => renderMetrics(runtime.deps),
  };
}

mmpContract('Workers (D1)', workerHarness);
