// Tests inside workerd, the runtime of Cloudflare Workers, with D1 and the committed migrations,
// offline. Bindings come from wrangler.toml; the test-only ones are added here.
import { fileURLToPath } from 'node:url';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// Paths below are relative to this folder, both when run as a project of the root config
// (`npm test`) and on its own (`--config test/workers/vitest.config.ts`).
const here = fileURLToPath(new URL('./', import.meta.url));

export default defineConfig({
  root: here,
  plugins: [
    cloudflareTest(async ({ inject }) => ({
      main: '../../src/worker/index.ts',
      wrangler: { configPath: '../../wrangler.toml' },
      miniflare: {
        // Databases for tests that need their own (parity starts empty; the sharded tests bind a DB,
        // three shards and a single database to compare with).
        d1Databases: ['DB', 'PARITY_DB', 'SCALE_DB', 'SCALE_SHARD_0', 'SCALE_SHARD_1', 'SCALE_SHARD_2', 'SCALE_SINGLE'],
        // Queue mode's producers and their consumer (this Worker's queue handler), as [env.scale] binds them.
        queueProducers: { INGEST_QUEUE_0: 'skanpost-ingest-0', INGEST_QUEUE_1: 'skanpost-ingest-1' },
        queueConsumers: {
          'skanpost-ingest-0': { maxBatchSize: 100, maxBatchTimeout: 0.05, maxRetries: 3, deadLetterQueue: 'skanpost-ingest-dlq' },
          'skanpost-ingest-1': { maxBatchSize: 100, maxBatchTimeout: 0.05, maxRetries: 3, deadLetterQueue: 'skanpost-ingest-dlq' },
        },
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations(fileURLToPath(new URL('../../drizzle', import.meta.url))),
          // Test-only configuration; a deployment sets its admin key with `wrangler secret put`.
          SKANPOST_ADMIN_KEY: 'workers-test-admin-key-0123456789',
          SKANPOST_LOG_LEVEL: 'warn',
          RECEIVER_URL: inject('receiverUrl'),
        },
      },
    })),
  ],
  test: {
    name: 'workers',
    include: ['**/*.test.ts'],
    globalSetup: ['./global-setup.ts'],
    setupFiles: ['./apply-migrations.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
