import type { D1Migration } from 'cloudflare:test';
import type { WorkerEnv } from '../../src/worker/runtime.js';

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      PARITY_DB: D1Database;
      SCALE_DB: D1Database;
      SCALE_SHARD_0: D1Database;
      SCALE_SHARD_1: D1Database;
      SCALE_SHARD_2: D1Database;
      SCALE_SINGLE: D1Database;
      TEST_MIGRATIONS: D1Migration[];
      RECEIVER_URL: string;
    }
  }
}
