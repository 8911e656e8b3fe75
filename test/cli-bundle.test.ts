// `npx skanpost` runs the CLI from its bundle (dist/cli), built on first use and again whenever a
// source file is newer, so a fresh clone and an edited tree both run the code they have. Run in a
// copy of the tree (node_modules linked), so the bundle other tests use is never touched.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { loadAppleSamples } from './support/app.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tree = mkdtempSync(join(tmpdir(), 'skanpost-cli-'));
afterAll(() => rmSync(tree, { recursive: true, force: true }));

/** Bytes of `files` and of every file they import statically, within `dir`. */
function loadedBy(dir: string, files: string[]): number {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(join(dir, file), 'utf8');
    for (const [, imported] of code.matchAll(/(?:from|import)\s*"\.\/([^"]+)"/g)) visit(imported!);
  };
  for (const file of files) visit(file);
  return [...seen].reduce((bytes, file) => bytes + statSync(join(dir, file)).size, 0);
}

it('builds the bundle when it is missing or older than a source file, and runs the CLI from it', async () => {
  for (const part of ['src', 'scripts', 'bin', 'drizzle', 'package.json']) cpSync(join(root, part), join(tree, part), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'), 'dir');
  const sample = (await loadAppleSamples()).find((s) => s.expect === 'verified')!;
  const body = join(tree, 'body.json');
  writeFileSync(body, JSON.stringify(sample.body));
  const verify = () => JSON.parse(execFileSync(process.execPath, [join(tree, 'bin', 'skanpost.mjs'), 'verify', body], { encoding: 'utf8', timeout: 60_000 }));
  const bundle = join(tree, 'dist', 'cli', 'bin.mjs');

  expect(verify()).toMatchObject({ signature: 'verified' }); // no bundle yet: built, then run
  const built = statSync(bundle).mtimeMs;
  expect(verify()).toMatchObject({ signature: 'verified' });
  expect(statSync(bundle).mtimeMs).toBe(built); // fresh: not built again
  // What `verify` compiles at start: bin.mjs, verify.mjs and what they import statically. Split with
  // the other commands it was 880 KB, zod's whole core among it; its own bundle is 445 KB.
  expect(loadedBy(join(tree, 'dist', 'cli'), ['bin.mjs', 'verify.mjs'])).toBeLessThan(500_000);

  // A source edited after the build: the next run builds first, and runs the edit.
  const old = new Date(Date.now() - 60_000);
  utimesSync(bundle, old, old);
  const help = join(tree, 'src', 'node', 'cli.ts');
  writeFileSync(help, readFileSync(help, 'utf8').replace('usage: skanpost <command>', 'usage: skanpost (edited) <command>'));
  const usage = execFileSync(process.execPath, [join(tree, 'bin', 'skanpost.mjs'), '--help'], { encoding: 'utf8', timeout: 60_000 });
  expect(usage).toContain('usage: skanpost (edited) <command>');
  expect(statSync(bundle).mtimeMs).toBeGreaterThan(old.getTime());
}, 120_000);
