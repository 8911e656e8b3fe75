// Every test file starts from databases with the committed migrations applied, as
// `wrangler d1 migrations apply` would apply them, and with the polyfill @peculiar/x509 needs
// loaded first, as the Worker's entry loads it.
import 'reflect-metadata';
import { applyD1Migrations, env } from 'cloudflare:test';

for (const db of [env.DB, env.PARITY_DB, env.SCALE_DB, env.SCALE_SHARD_0, env.SCALE_SHARD_1, env.SCALE_SHARD_2, env.SCALE_SINGLE]) {
  await applyD1Migrations(db, env.TEST_MIGRATIONS);
}
