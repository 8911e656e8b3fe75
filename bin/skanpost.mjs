#!/usr/bin/env node
// `npx skanpost …` and `npm run skanpost -- …`: the CLI from its bundle (dist/cli/bin.mjs, built
// with the server's by scripts/build.mjs), so it starts without compiling TypeScript. The bundle is
// built first when it is missing or older than any source file: a fresh clone and an edited tree
// both run the code they have.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = join(root, 'dist', 'cli', 'bin.mjs');

/** The newest modification time under `dir` (ms). */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

const built = statSync(bundle, { throwIfNoEntry: false })?.mtimeMs ?? 0;
if (built < Math.max(newest(join(root, 'src')), statSync(join(root, 'scripts', 'build.mjs')).mtimeMs)) {
  const { buildNode } = await import('../scripts/build.mjs');
  await buildNode();
}
await import(pathToFileURL(bundle).href);
