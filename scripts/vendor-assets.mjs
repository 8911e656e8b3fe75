// Copies the third-party files of the dashboard (uPlot) and of /docs (Swagger UI) from node_modules
// next to skanpost's own, into public/, which a Worker serves as static assets. wrangler runs this before every
// `wrangler dev` and `wrangler deploy` ([build] in wrangler.toml); the copies are not committed.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const publicDir = fileURLToPath(new URL('../public/', import.meta.url));
for (const [from, to] of [
  ['uplot/dist/uPlot.iife.min.js', 'dashboard/assets/uplot.js'],
  ['uplot/dist/uPlot.min.css', 'dashboard/assets/uplot.css'],
  ['swagger-ui-dist/swagger-ui-bundle.js', 'docs/assets/swagger-ui-bundle.js'],
  ['swagger-ui-dist/swagger-ui.css', 'docs/assets/swagger-ui.css'],
]) {
  mkdirSync(dirname(`${publicDir}${to}`), { recursive: true });
  copyFileSync(require.resolve(from), `${publicDir}${to}`);
}
