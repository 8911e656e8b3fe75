// The Node bundles. dist/node: the server (`npm start`) and its worker threads, one file each,
// packages left to node_modules. dist/cli: the CLI, with its packages bundled in (better-sqlite3
// aside: native), minified and split so that each command loads only its own code: `skanpost
// verify` starts without the database, the server or most of the packages (BENCHMARKS.md).
// `npm run build` runs it, `npm start` before serving, and bin/skanpost.mjs when the CLI's bundle
// is missing or older than a source file. Each is written to a folder of its own, then moved in
// file by file (each rename atomic), so a run that reads a bundle while another builds never reads
// half a file.
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = (name) => join(root, 'src', 'node', `${name}.ts`);

/** Builds each of `builds` (esbuild options) into `dist/<folder>`, replacing what was there. */
async function buildInto(folder, ...builds) {
  const out = join(root, 'dist', folder);
  mkdirSync(out, { recursive: true });
  const staging = mkdtempSync(join(root, 'dist', '.build-'));
  try {
    for (const options of builds) {
      await build({ bundle: true, platform: 'node', format: 'esm', outdir: staging, outExtension: { '.js': '.mjs' }, logLevel: 'warning', ...options });
    }
    const fresh = new Set(readdirSync(staging));
    for (const file of fresh) renameSync(join(staging, file), join(out, file));
    // Chunks of an earlier build (their names carry a hash) are no longer imported by anything.
    for (const file of readdirSync(out)) if (!fresh.has(file)) rmSync(join(out, file), { force: true });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

export async function buildNode() {
  await buildInto('node', { entryPoints: ['main', 'ingest-thread', 'report-threads'].map(entry), packages: 'external', sourcemap: true });
  const cli = {
    external: ['better-sqlite3'],
    minify: true,
    // Bundled CommonJS packages call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __skanpostRequire } from 'node:module'; const require = __skanpostRequire(import.meta.url);" },
  };
  // `verify` is bundled on its own: split with the other commands, it would share one chunk of zod's
  // core with them, all 400 KB of it (esbuild assigns a shared file whole), where zod/mini's
  // validators alone are 20 KB. The rest imports it as the external file it becomes.
  const verifyAlone = {
    name: 'verify-alone',
    setup(build) {
      build.onResolve({ filter: /\/commands\/verify\.js$/ }, () => ({ path: './verify.mjs', external: true }));
    },
  };
  await buildInto(
    'cli',
    { ...cli, entryPoints: [entry('bin')], splitting: true, plugins: [verifyAlone] },
    { ...cli, entryPoints: { verify: join(root, 'src', 'node', 'commands', 'verify.ts') } },
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildNode();
