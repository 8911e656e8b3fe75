// The repository contract on D1 inside workerd, through the Worker's own writer.
import { env } from 'cloudflare:test';
import { createWorkerRuntime } from '../../src/worker/runtime.js';
import { repositoryContract } from '../support/repository-contract.js';
import { resetTables } from './reset.js';

repositoryContract('D1', async () => {
  const { db, writer } = await createWorkerRuntime(env);
  // Each case starts from empty tables, as on Node where each gets a fresh in-memory database.
  await resetTables(db);
  return { db, writer };
});
