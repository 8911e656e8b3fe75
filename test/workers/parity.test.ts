// workerd half of the parity check (the Node half is test/parity.test.ts): the same pre-signed
// postbacks through the same app on D1 give exactly the results in fixtures/parity/golden.json.
import { env } from 'cloudflare:test';
import { expect, it } from 'vitest';
import golden from '../../fixtures/parity/golden.json' with { type: 'json' };
import { createApp } from '../../src/http/app.js';
import { createWorkerRuntime } from '../../src/worker/runtime.js';
import { type Clock, PARITY_ADMIN_KEY, PARITY_EXTRA_KEYS, runParityScenario } from '../support/parity-scenario.js';

it('ingests the parity postbacks on D1 with the golden results', async () => {
  const clock: Clock = { at: new Date(0) };
  const runtime = await createWorkerRuntime(
    { ...env, DB: env.PARITY_DB, SKANPOST_EXTRA_KEYS: PARITY_EXTRA_KEYS, SKANPOST_ADMIN_KEY: PARITY_ADMIN_KEY, SKANPOST_LOG_LEVEL: 'warn' },
    () => clock.at,
  );
  const app = createApp(runtime.deps);
  const result = JSON.parse(JSON.stringify(await runParityScenario((request) => app.fetch(request), clock)));
  expect(result).toEqual(golden);
});
