// workerd half of the parity check (the Node half is test/parity.test.ts): the same pre-signed
// postbacks through the same app on D1 give exactly the results in fixtures/parity/golden.json.
import { env } from 'cloudflare:test';
import { expect, it } from 'vitest';
import golden from '../../fixtures/parity/golden.json' with { type: 'json' };
import { createApp } from '../../src/http/app.js';
import { createWorkerRuntime, forgetShardPlacements } from '../../src/worker/runtime.js';
import { type Clock, PARITY_ADMIN_KEY, PARITY_EXTRA_KEYS, runParityScenario } from '../support/parity-scenario.js';
import { resetTables } from './reset.js';

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

// The scenario's one postback of app 999 lands on shard 1: ids name their shard, so receipts and the
// listing are compared without them (and the listing in arrival order); reports byte for byte.
it('gives the golden results on three shards too, ids aside', async () => {
  forgetShardPlacements();
  const clock: Clock = { at: new Date(0) };
  const bindings = {
    ...env,
    DB: env.SCALE_DB,
    SHARD_0: env.SCALE_SHARD_0,
    SHARD_1: env.SCALE_SHARD_1,
    SHARD_2: env.SCALE_SHARD_2,
    SKANPOST_EXTRA_KEYS: PARITY_EXTRA_KEYS,
    SKANPOST_ADMIN_KEY: PARITY_ADMIN_KEY,
    SKANPOST_LOG_LEVEL: 'warn',
  };
  const runtime = await createWorkerRuntime(bindings, () => clock.at);
  await resetTables(runtime.db);
  for (const shard of runtime.shards.all) await resetTables(shard.db);
  const app = createApp(runtime.deps);
  const result = JSON.parse(JSON.stringify(await runParityScenario((request) => app.fetch(request), clock)));
  expect(result.reports).toEqual(golden.reports);
  expect(result.setup).toEqual(golden.setup);
  const withoutId = ({ id: _, first_id: __, ...rest }: Record<string, unknown>) => rest;
  expect(result.receipts.map(withoutId)).toEqual(golden.receipts.map(withoutId));
  const byArrival = (rows: Array<Record<string, unknown>>) =>
    rows.map(withoutId).sort((a, b) => String(a.received_at).localeCompare(String(b.received_at)) || JSON.stringify(a).localeCompare(JSON.stringify(b)));
  expect(byArrival(result.postbacks.postbacks)).toEqual(byArrival(golden.postbacks.postbacks as Array<Record<string, unknown>>));
  expect(result.receipts.filter((r: { id: number }) => r.id >= 2 ** 40)).toHaveLength(1);
});
