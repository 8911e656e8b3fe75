// `npm run bench:writer [-- --rows N --rounds R --against DIR]`: the ingest thread alone, as the
// server runs it (the bundled dist/node/ingest-thread.mjs, its group commit on a fresh database
// file, synchronous=FULL), fed rows that the real pipeline built from signed SKAN 4.0 postbacks,
// 64 in flight. Prints the CPU of this whole process per row (the ingest thread, the hand-over
// both ways, garbage collection) and rows a second. No HTTP, no load generator: the writer's own
// cost, steadier than the server bench on a two-core machine. `--against DIR`: also runs the
// bundle of another checkout (a worktree of an earlier commit), alternating A B per round.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_INSTALL_MODEL } from '../src/conversion/install-date.js';
import type { NewPostbackRow } from '../src/db/schema.js';
import { preparePostback } from '../src/ingest/ingest.js';
import type { SaveResult } from '../src/ingest/save.js';
import { createVerification } from '../src/node/crypto.js';
import type { IngestThreadOptions } from '../src/node/ingest-thread.js';
import { SPKI, signedPostbacks } from './signed-postbacks.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    against: { type: 'string' },
  },
});
const ROWS = Number(values.rows);
const ROUNDS = Number(values.rounds);
const IN_FLIGHT = 64;

interface Thread {
  save(row: NewPostbackRow): Promise<SaveResult>;
  close(): Promise<void>;
}
type ThreadClass = new (options: IngestThreadOptions, onFailure: (error: Error) => void) => Thread;

const verification = await createVerification(SPKI);

/** Rows as the server's main thread hands them over: read, verified and built by the pipeline. */
async function rows(count: number): Promise<NewPostbackRow[]> {
  const out: NewPostbackRow[] = [];
  for (const body of signedPostbacks(count)) {
    const prepared = await preparePostback(new TextEncoder().encode(body), verification, new Date());
    if (!prepared.ok || prepared.row.signature !== 'verified') throw new Error('the bench postback does not verify');
    out.push(prepared.row);
  }
  return out;
}

async function open(root: string): Promise<{ thread: Thread; dir: string }> {
  const module = (await import(pathToFileURL(join(root, 'dist', 'node', 'ingest-thread.mjs')).href)) as { IngestThread: ThreadClass };
  const dir = mkdtempSync(join(tmpdir(), 'skanpost-bench-writer-'));
  const options = { dbPath: join(dir, 'writer.db'), synchronous: 'full' as const, installModel: DEFAULT_INSTALL_MODEL, retention: { unverifiedDays: 90, verifiedDays: undefined } };
  const thread = new module.IngestThread(options, (error) => {
    throw error;
  });
  return { thread, dir };
}

async function feed(thread: Thread, all: NewPostbackRow[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < all.length) {
      const saved = await thread.save(all[next++]!);
      if (saved.outcome !== 'stored') throw new Error(`a unique postback came back ${saved.outcome}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
const sides = [{ name: 'this checkout', root: process.cwd() }];
if (values.against) sides.unshift({ name: values.against, root: resolve(values.against) });
const opened = [];
for (const side of sides) {
  const { thread, dir } = await open(side.root);
  await feed(thread, await rows(3000)); // warm-up: the thread's hot code compiled, its pages cached
  opened.push({ ...side, thread, dir, results: [] as number[] });
}
console.log(`bench:writer — ${ROWS} rows per round, ${IN_FLIGHT} in flight, ${ROUNDS} rounds (node ${process.version})`);
for (let round = 1; round <= ROUNDS; round++) {
  for (const side of opened) {
    const batch = await rows(ROWS);
    const cpu = process.cpuUsage();
    const started = performance.now();
    await feed(side.thread, batch);
    const used = process.cpuUsage(cpu);
    const perRow = (used.user + used.system) / ROWS;
    side.results.push(perRow);
    console.log(`round ${round} ${side.name.padEnd(16)} ${perRow.toFixed(1)} µs CPU per row  ${Math.round((ROWS / (performance.now() - started)) * 1000)} rows/s`);
  }
}
for (const side of opened) {
  const sorted = [...side.results].sort((a, b) => a - b);
  console.log(`median ${side.name}: ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} µs CPU per row`);
  await side.thread.close();
  rmSync(side.dir, { recursive: true, force: true });
}
