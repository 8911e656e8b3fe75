// Node half of the parity check (the workerd half is test/workers/parity.test.ts): the committed
// pre-signed postbacks give the results recorded in fixtures/parity/golden.json. To re-record after
// an intended change: UPDATE_GOLDEN=1 npx vitest run test/parity.test.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { createTestApp } from './support/app.js';
import { type Clock, PARITY_ADMIN_KEY, PARITY_EXTRA_KEYS, runParityScenario } from './support/parity-scenario.js';

const GOLDEN = new URL('../fixtures/parity/golden.json', import.meta.url);

it('ingests the parity postbacks on better-sqlite3 with the golden results', async () => {
  const clock: Clock = { at: new Date(0) };
  const app = await createTestApp({ extraKeys: PARITY_EXTRA_KEYS, adminKey: PARITY_ADMIN_KEY, now: () => clock.at });
  try {
    const result = JSON.parse(JSON.stringify(await runParityScenario((request) => app.app.fetch(request), clock)));
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, `${JSON.stringify(result, null, 2)}\n`);
    expect(result).toEqual(JSON.parse(readFileSync(GOLDEN, 'utf8')));
  } finally {
    await app.close();
  }
});
