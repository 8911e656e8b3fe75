// Copies the dashboard's third-party files (uPlot) from node_modules next to skanpost's own, into
// public/dashboard/assets/, which a Worker serves as static assets. wrangler runs this before every
// `wrangler dev` and `wrangler deploy` ([build] in wrangler.toml); the copies are not committed.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const target = fileURLToPath(new URL('../public/dashboard/assets/', import.meta.url));
mkdirSync(target, { recursive: true });
for (const [from, to] of [
  ['uplot/dist/uPlot.iife.min.js', 'uplot.js'],
  ['uplot/dist/uPlot.min.css', 'uplot.css'],
]) {
  copyFileSync(require.resolve(from), `${target}${to}`);
}
