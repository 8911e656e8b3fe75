// `npm run dev:worker:scale`: wrangler.toml's [env.scale] served locally, as `npm run dev:worker`
// serves the default. Applies the migrations to every local D1 database the environment binds (DB
// and each shard), then runs `wrangler dev --env scale --local` on 127.0.0.1:8789 (SKANPOST_DEV_PORT)
// with its state in SKANPOST_DEV_STATE (default .wrangler/state). Arguments reach `wrangler dev`.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'smol-toml';

const state = process.env.SKANPOST_DEV_STATE || '.wrangler/state';
const port = process.env.SKANPOST_DEV_PORT || '8789';
const config = parse(readFileSync(new URL('../wrangler.toml', import.meta.url), 'utf8'));
const databases = config.env?.scale?.d1_databases ?? [];
if (databases.length === 0) {
  console.error('wrangler.toml has no [[env.scale.d1_databases]]: nothing to serve');
  process.exit(1);
}
for (const { binding } of databases) {
  const applied = spawnSync('wrangler', ['d1', 'migrations', 'apply', binding, '--env', 'scale', '--local', '--persist-to', state], { stdio: 'inherit' });
  if (applied.status !== 0) {
    console.error(`the migrations could not be applied to ${binding} (wrangler exited ${applied.status ?? applied.signal})`);
    process.exit(applied.status || 1);
  }
}
const dev = spawn('wrangler', ['dev', '--env', 'scale', '--local', '--ip', '127.0.0.1', '--port', port, '--persist-to', state, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => dev.kill(signal));
dev.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
