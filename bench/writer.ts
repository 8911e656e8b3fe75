// `npm run bench:writer [-- --rows N --rounds R --against DIR --floor --batch N]`: the ingest thread alone, as the
// server runs it (the bundled dist/node/ingest-thread.mjs, its group commit on a fresh database
// file, synchronous=FULL), fed rows that the real pipeline built from signed SKAN 4.0 postbacks,
// 64 in flight. Prints the CPU of this whole process per row (the ingest thread, the hand-over
// both ways, garbage collection) and rows a second. No HTTP, no load generator: the writer's own
// cost, steadier than the server bench on a two-core machine. `--against DIR`: also runs the
// bundle of another checkout (a worktree of an earlier commit), alternating A B per round.
// `--floor`: then the SQL under it, without the thread: the rows this checkout's thread stored are
// written again into fresh databases by bare better-sqlite3 statements, in transactions as large as
// the thread's commits were (its mean units per commit): the postback row alone, with its rollup and
// event rows, each as one multi-row INSERT per transaction instead of a statement per row, and with
// the body left out (how much a narrower row could save). `--batch N`: transactions of N instead (the
// server's saturated commits hold ~30: its /metrics, and `npm run bench` prints units/commit).
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_INSTALL_MODEL } from '../src/conversion/install-date.js';
import type { NewPostbackRow } from '../src/db/schema.js';
import { preparePostback } from '../src/ingest/ingest.js';
import type { SaveResult } from '../src/ingest/save.js';
import { createVerification } from '../src/node/crypto.js';
import { openDatabase } from '../src/node/database.js';
import type { IngestThreadOptions } from '../src/node/ingest-thread.js';
import { commitCounts } from './commits.js';
import { SPKI, signedPostbacks } from './signed-postbacks.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    against: { type: 'string' },
    floor: { type: 'boolean', default: false },
    batch: { type: 'string' },
  },
});
const ROWS = Number(values.rows);
const ROUNDS = Number(values.rounds);
const IN_FLIGHT = 64;

interface Thread {
  save(row: NewPostbackRow): Promise<SaveResult>;
  metrics(): Promise<string>;
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
    const ticks = threadTicks();
    const started = performance.now();
    await feed(side.thread, batch);
    const used = process.cpuUsage(cpu);
    const split = threadSplit(ticks, threadTicks());
    const perRow = (used.user + used.system) / ROWS;
    side.results.push(perRow);
    console.log(
      `round ${round} ${side.name.padEnd(16)} ${perRow.toFixed(1)} µs CPU per row  ${Math.round((ROWS / (performance.now() - started)) * 1000)} rows/s  ` +
        `(the bench's thread ${split.main.toFixed(0)}, the ingest thread ${split.busiest.toFixed(0)}, V8's and libuv's ${split.rest.toFixed(0)})`,
    );
  }
}
/** CPU ticks (10 ms) used so far by each of this process's threads, from /proc. */
function threadTicks(): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks.set(tid, Number(fields[11]) + Number(fields[12]));
  }
  return ticks;
}

/** µs per row: this (the bench's) thread, the busiest other (the ingest thread fed), all the rest. */
function threadSplit(before: Map<string, number>, after: Map<string, number>) {
  const perRow = (ticks: number) => (ticks * 10_000) / ROWS;
  const others = [...after].filter(([tid]) => tid !== String(process.pid)).map(([tid, t]) => t - (before.get(tid) ?? 0));
  const busiest = Math.max(0, ...others);
  return {
    main: perRow((after.get(String(process.pid)) ?? 0) - (before.get(String(process.pid)) ?? 0)),
    busiest: perRow(busiest),
    rest: perRow(others.reduce((a, b) => a + b, 0) - busiest),
  };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const side of opened) {
  console.log(`median ${side.name}: ${median(side.results).toFixed(1)} µs CPU per row`);
  const metrics = await side.thread.metrics();
  await side.thread.close();
  if (values.floor && side.root === process.cwd()) sqlFloor(join(side.dir, 'writer.db'), metrics);
  rmSync(side.dir, { recursive: true, force: true });
}

/** The thread's rows written again by bare statements: what its SQL costs without the thread. */
function sqlFloor(stored: string, metrics: string): void {
  const counted = commitCounts(metrics);
  const batch = values.batch ? Number(values.batch) : Math.max(1, Math.round(counted ? counted.units / counted.commits : IN_FLIGHT));
  const source = openDatabase(stored).sqlite;
  const tables = ['postbacks', 'rollups', 'rollup_events'] as const;
  const data = Object.fromEntries(
    tables.map((table) => {
      const info = source.pragma(`table_info(${table})`) as Array<{ name: string; pk: number }>;
      const columns = info.map((c) => c.name).filter((c) => c !== 'id');
      const key = info
        .filter((c) => c.pk > 0 && c.name !== 'id')
        .sort((a, b) => a.pk - b.pk)
        .map((c) => c.name);
      const rows = source
        .prepare(`select ${columns.map((c) => `"${c}"`).join(', ')} from ${table}${table === 'postbacks' ? ' order by id' : ''}`)
        .raw()
        .all() as unknown[][];
      return [table, { columns, key, rows }];
    }),
  ) as Record<(typeof tables)[number], { columns: string[]; key: string[]; rows: unknown[][] }>;
  source.close();
  // The aggregates come back in key order; the writer meets them in arrival order, which the key's
  // app and time spread: a fixed shuffle stands for it.
  for (const table of ['rollups', 'rollup_events'] as const) {
    const rows = data[table].rows;
    let seed = 7;
    for (let i = rows.length - 1; i > 0; i--) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const j = seed % (i + 1);
      [rows[i], rows[j]] = [rows[j]!, rows[i]!];
    }
  }
  const body = data.postbacks.columns.indexOf('body');
  const narrow = data.postbacks.rows.map((row) => row.map((v, i) => (i === body ? '' : v)));
  const insert = (table: (typeof tables)[number], n: number) => {
    const { columns, key } = data[table];
    const quoted = columns.map((c) => `"${c}"`);
    const tuples = Array.from({ length: n }, () => `(${columns.map(() => '?').join(', ')})`).join(', ');
    const conflict =
      table === 'postbacks'
        ? 'on conflict do nothing'
        : `on conflict (${key.map((c) => `"${c}"`).join(', ')}) do update set ${quoted
            .filter((_, i) => !key.includes(columns[i]!))
            .map((c) => `${c} = ${c} + excluded.${c}`)
            .join(', ')}`;
    return `insert into ${table} (${quoted.join(', ')}) values ${tuples} ${conflict}`;
  };
  const variants = [
    { name: 'the postback row, a statement per row', tables: ['postbacks'], multi: false, narrow: false },
    { name: 'the same, one multi-row INSERT per transaction', tables: ['postbacks'], multi: true, narrow: false },
    { name: 'the same without its body, a statement per row', tables: ['postbacks'], multi: false, narrow: true },
    { name: 'with its rollup and event rows, a statement per row', tables, multi: false, narrow: false },
    { name: 'the same, multi-row INSERTs', tables, multi: true, narrow: false },
  ] as const;
  const results = variants.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const [v, variant] of variants.entries()) {
      const dir = mkdtempSync(join(tmpdir(), 'skanpost-bench-floor-'));
      const { sqlite } = openDatabase(join(dir, 'floor.db'));
      const one = Object.fromEntries(variant.tables.map((t) => [t, sqlite.prepare(insert(t, 1))]));
      const many = Object.fromEntries(variant.tables.map((t) => [t, sqlite.prepare(insert(t, batch))]));
      const [begin, commit] = [sqlite.prepare('BEGIN IMMEDIATE'), sqlite.prepare('COMMIT')];
      const count = data.postbacks.rows.length;
      const cpu = process.cpuUsage();
      for (let from = 0; from < count; from += batch) {
        begin.run();
        for (const table of variant.tables) {
          const rows = (table === 'postbacks' && variant.narrow ? narrow : data[table].rows).slice(from, from + batch);
          // Plain runs, no RETURNING: the writer tells a new row's id by SQLite's changes and last rowid.
          if (variant.multi && rows.length === batch) many[table]!.run(rows.flat());
          else for (const row of rows) one[table]!.run(row);
        }
        commit.run();
      }
      const used = process.cpuUsage(cpu);
      sqlite.close();
      rmSync(dir, { recursive: true, force: true });
      if (round > 0) results[v]!.push((used.user + used.system) / count); // round 0 warms up
    }
  }
  console.log(
    `\nthe SQL alone: ${data.postbacks.rows.length} rows the thread stored, in transactions of ${batch} (${values.batch ? '--batch' : 'its mean per commit'}), synchronous=FULL`,
  );
  for (const [v, variant] of variants.entries()) {
    console.log(`${variant.name.padEnd(52)} ${median(results[v]!).toFixed(1)} µs CPU per postback  (${results[v]!.map((x) => x.toFixed(1)).join(' ')})`);
  }
}
