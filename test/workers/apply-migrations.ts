// Every test file starts from databases with the committed migrations applied, as
// `wrangler d1 migrations apply` would apply them, and with the polyfill @peculiar/x509 needs
// loaded first, as the Worker's entry loads it.
import 'reflect-metadata';
import { applyD1Migrations, env } from 'cloudflare:test';

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await applyD1Migrations(env.PARITY_DB, env.TEST_MIGRATIONS);
