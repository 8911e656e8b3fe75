// The runtime-neutral core stays neutral: no `node:` modules or Node-only packages outside src/node.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src', import.meta.url));
const NODE_ONLY = /from\s+['"](node:[^'"]+|fs|path|os|crypto|child_process|better-sqlite3|@hono\/node-server|drizzle-orm\/better-sqlite3[^'"]*|tsx[^'"]*)['"]/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

it('finds the core files it checks', () => {
  expect(files(src).filter((f) => !relative(src, f).startsWith('node/')).length).toBeGreaterThan(10);
});

it('imports nothing Node-only outside src/node', () => {
  const offenders = files(src)
    .filter((f) => !relative(src, f).startsWith('node/'))
    .flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((line) => NODE_ONLY.test(line)).map((line) => `${relative(src, f)}: ${line.trim()}`));
  expect(offenders).toEqual([]);
});

it('src/version.ts says the version package.json says', async () => {
  const { VERSION } = await import('../src/version.js');
  expect(VERSION).toBe(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
});

it('nothing outside src/node imports from src/node (the Worker bundle stays Node-free)', () => {
  const offenders = files(src)
    .filter((f) => !relative(src, f).startsWith('node/'))
    .flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((line) => /from\s+['"][./]*\/node\//.test(line)).map((line) => `${relative(src, f)}: ${line.trim()}`));
  expect(offenders).toEqual([]);
});
