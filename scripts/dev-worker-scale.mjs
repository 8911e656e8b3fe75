// `npm run dev:worker:scale`: wrangler.toml's [env.scale] served locally, as `npm run dev:worker`
// serves the default. Applies the migrations to every local D1 database the environment binds (DB
// and each shard), then runs `wrangler dev --env scale --local` on 127.0.0.1:8789 (SKANPOST_DEV_PORT)
// with its state in SKANPOST_DEV_STATE (default .wrangler/state). Arguments reach `wrangler dev`.
import { spawn } from 'node:child_process';
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
// Every database at once: each run is mostly wrangler's own start, so side by side they take about
// as long as one (one after the other, 17 migrations on four databases took ~60 s).
const apply = (binding) =>
  new Promise((resolve) => {
    const run = spawn('wrangler', ['d1', 'migrations', 'apply', binding, '--env', 'scale', '--local', '--persist-to', state], { stdio: 'inherit' });
    run.on('error', (error) => resolve({ binding, failure: error.message }));
    run.on('exit', (code, signal) => resolve({ binding, failure: code === 0 ? undefined : `wrangler exited ${code ?? signal}`, code }));
  });
const failed = (await Promise.all(databases.map(({ binding }) => apply(binding)))).filter((r) => r.failure);
for (const { binding, failure } of failed) console.error(`the migrations could not be applied to ${binding} (${failure})`);
if (failed.length > 0) process.exit(failed[0].code || 1);
const dev = spawn('wrangler', ['dev', '--env', 'scale', '--local', '--ip', '127.0.0.1', '--port', port, '--persist-to', state, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => dev.kill(signal));
dev.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
