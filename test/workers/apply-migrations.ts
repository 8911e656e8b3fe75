// Every test file starts from databases with the committed migrations applied, as
// `wrangler d1 migrations apply` would apply them.
import { applyD1Migrations, env } from 'cloudflare:test';

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await applyD1Migrations(env.PARITY_DB, env.TEST_MIGRATIONS);
