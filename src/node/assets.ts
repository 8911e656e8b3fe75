// The scripts and styles of the dashboard and of /docs on Node: read once at start from their
// packages (uPlot, Swagger UI) and from public/ (skanpost's own), and served from skanpost's origin:
// no CDN, so an air-gapped install works. (A Worker serves the same files as static assets.)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
// src/node in development, dist/node when bundled: both two levels below the package root.
const PUBLIC = resolve(dirname(fileURLToPath(import.meta.url)), '../../public');

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** Every asset by its path under public/ (as a Worker's static assets have it). */
export function staticAssets(): ReadonlyMap<string, { body: string; type: string }> {
  const read = (path: string) => readFileSync(path, 'utf8');
  const own = (path: string) => read(join(PUBLIC, path));
  return new Map([
    ['dashboard/assets/uplot.js', { body: read(require.resolve('uplot/dist/uPlot.iife.min.js')), type: JS }],
    ['dashboard/assets/uplot.css', { body: read(require.resolve('uplot/dist/uPlot.min.css')), type: CSS }],
    ['dashboard/assets/dashboard.js', { body: own('dashboard/assets/dashboard.js'), type: JS }],
    ['dashboard/assets/dashboard.css', { body: own('dashboard/assets/dashboard.css'), type: CSS }],
    ['docs/assets/swagger-ui-bundle.js', { body: read(require.resolve('swagger-ui-dist/swagger-ui-bundle.js')), type: JS }],
    ['docs/assets/swagger-ui.css', { body: read(require.resolve('swagger-ui-dist/swagger-ui.css')), type: CSS }],
    ['docs/assets/docs.js', { body: own('docs/assets/docs.js'), type: JS }],
  ]);
}
