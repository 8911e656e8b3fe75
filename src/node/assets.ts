// The dashboard's scripts and styles on Node: read once at start from the package (uPlot) and from
// public/dashboard/assets (skanpost's own), and served from skanpost's origin: no CDN, so an
// air-gapped install works. (A Worker serves the same files as static assets.)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
// src/node in development, dist/node when bundled: both two levels below the package root.
const PUBLIC = resolve(dirname(fileURLToPath(import.meta.url)), '../../public/dashboard/assets');

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

export function dashboardAssets(): ReadonlyMap<string, { body: string; type: string }> {
  const read = (path: string) => readFileSync(path, 'utf8');
  return new Map([
    ['uplot.js', { body: read(require.resolve('uplot/dist/uPlot.iife.min.js')), type: JS }],
    ['uplot.css', { body: read(require.resolve('uplot/dist/uPlot.min.css')), type: CSS }],
    ['dashboard.js', { body: read(join(PUBLIC, 'dashboard.js')), type: JS }],
    ['dashboard.css', { body: read(join(PUBLIC, 'dashboard.css')), type: CSS }],
  ]);
}
