// `npm run bench:consumer [-- --postbacks N --rounds R]`: the queue consumer's writes in local
// workerd with local D1 (Miniflare, the Worker bundled by wrangler as for a deploy): N signed SKAN
// 4.0 postbacks of 20 apps per round, sent 100 per request as queue messages, written either as
// the consumer writes a batch (one db.batch() per shard) or one postback per db.batch(); rounds
// A B A B on emptied databases, and the median of each. With --shards 3 the Worker binds three
// shards, as [env.scale] does. With --move, each round's postbacks are one app's, and the app is then
// moved to another shard as the cron moves it (the write rate the baseline). Local D1 is SQLite in
// the same process: the figures show statements and round trips saved here, not D1's network latency.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Miniflare } from 'miniflare';
import { preparePostback } from '../src/ingest/ingest.js';
import { toMessage } from '../src/ingest/queue.js';
import { createVerification } from '../src/node/crypto.js';
import { generateKey, signSkan, skanBody } from '../test/support/signing.js';

const { values } = parseArgs({
  options: {
    postbacks: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '3' },
    shards: { type: 'string', default: '0' },
    move: { type: 'boolean', default: false },
  },
});
const N = Number(values.postbacks);
const ROUNDS = Number(values.rounds);
const MOVE = values.move;
// Moving needs two shards, and one app to move: all the postbacks are its.
const SHARDS = MOVE ? Math.max(2, Number(values.shards)) : Number(values.shards);
const APPS = MOVE ? 1 : 20;
const BATCH = 100;
const root = new URL('..', import.meta.url).pathname;

const key = generateKey('P-256');
const verification = await createVerification(key.spkiBase64);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** N fresh postbacks as queue messages (a new transaction each; 20 apps, 3 windows of 4.0). */
async function messages(round: number): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < N; i++) {
    const body = signSkan(skanBody('4.0', { 'app-id': 1_000_000 + (i % APPS), 'source-identifier': String(1000 + (i % 300)), 'conversion-value': i % 64 }), key, '4.0');
    const prepared = await preparePostback(new TextEncoder().encode(JSON.stringify(body)), verification, new Date(Date.UTC(2026, 10, 20) + round * 3_600_000 + i * 1000));
    if (!prepared.ok) throw new Error('the bench built a postback it cannot read');
    out.push(toMessage({ kind: 'postback', row: prepared.row }));
  }
  return out;
}

const out = mkdtempSync(join(tmpdir(), 'skanpost-bench-consumer-'));
execFileSync('npx', ['wrangler', 'deploy', 'bench/consumer-worker.ts', '--dry-run', '--outdir', out, '--name', 'skanpost-bench-consumer'], {
  cwd: root,
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', CI: '1' },
  stdio: 'pipe',
});
const shardNames = Array.from({ length: SHARDS }, (_, i) => `SHARD_${i}`);
const mf = new Miniflare({
  modules: true,
  scriptPath: join(out, 'consumer-worker.js'),
  modulesRoot: out,
  compatibilityDate: '2026-04-01',
  d1Databases: ['DB', ...shardNames],
  bindings: { SKANPOST_EXTRA_KEYS: key.spkiBase64, SKANPOST_LOG_LEVEL: 'error' },
});
const migrations = readdirSync(join(root, 'drizzle'))
  .filter((f) => f.endsWith('.sql'))
  .sort()
  .flatMap((f) => readFileSync(join(root, 'drizzle', f), 'utf8').split('--> statement-breakpoint'))
  .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
  .filter(Boolean);
const databases = await Promise.all(['DB', ...shardNames].map((name) => mf.getD1Database(name)));
for (const db of databases) for (const statement of migrations) await db.prepare(statement).run();
const tables = (
  await databases[0]!.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '_cf_%'").all<{ name: string }>()
).results.map((t) => t.name);

async function round(mode: 'batch' | 'single', r: number): Promise<number> {
  for (const db of databases) for (const table of tables) await db.prepare(`delete from "${table}"`).run();
  await mf.dispatchFetch('http://bench/forget', { method: 'POST' });
  const sent = await messages(r);
  const started = performance.now();
  for (let i = 0; i < sent.length; i += BATCH) {
    const response = await mf.dispatchFetch(`http://bench/consume?mode=${mode}`, { method: 'POST', body: JSON.stringify(sent.slice(i, i + BATCH)) });
    const { unwritten } = (await response.json()) as { unwritten: number };
    if (!response.ok || unwritten > 0) throw new Error(`round ${r} (${mode}): ${response.status}, ${unwritten} unwritten`);
  }
  const seconds = (performance.now() - started) / 1000;
  let stored = 0;
  for (const db of databases) stored += (await db.prepare('select count(*) as n from postbacks').first<{ n: number }>())!.n;
  if (stored !== N) throw new Error(`round ${r} (${mode}): ${stored} postbacks stored, ${N} sent`);
  return N / seconds;
}

async function consumerRounds(): Promise<void> {
  await round('batch', 0); // warm-up, not counted
  const rates: Record<'batch' | 'single', number[]> = { batch: [], single: [] };
  for (let r = 1; r <= ROUNDS; r++) {
    rates.batch.push(await round('batch', r));
    rates.single.push(await round('single', r));
    console.log(`round ${r}: batch ${rates.batch.at(-1)!.toFixed(0)}/s, single ${rates.single.at(-1)!.toFixed(0)}/s`);
  }
  const batch = median(rates.batch);
  const single = median(rates.single);
  console.log(
    JSON.stringify({ postbacks: N, rounds: ROUNDS, shards: SHARDS, batch_per_s: Math.round(batch), single_per_s: Math.round(single), ratio: Number((batch / single).toFixed(2)) }),
  );
}

/**
 * --move: each round writes N postbacks of one app (as the consumer writes batches, timed: the
 * baseline), then moves the app to shard 1 as the cron would, a run of the cron's budget per minute.
 */
async function moveRounds(): Promise<void> {
  const rows: Array<{ ingest_per_s: number; move_per_s: number; runs: number; slices: number }> = [];
  for (let r = 0; r <= ROUNDS; r++) {
    const ingest = await round('batch', r);
    const response = await mf.dispatchFetch(`http://bench/move?app=1000000&to=1`, { method: 'POST' });
    if (!response.ok) throw new Error(`round ${r}: the move failed: ${await response.text()}`);
    const moved = (await response.json()) as { state: string; runs: number; slices: number; ms: number };
    if (moved.state !== 'done') throw new Error(`round ${r}: the move ended ${moved.state}`);
    const left = (await databases[1]!.prepare('select count(*) as n from postbacks').first<{ n: number }>())!.n;
    const onTarget = (await databases[2]!.prepare('select count(*) as n from postbacks').first<{ n: number }>())!.n;
    if (left !== 0 || onTarget !== N) throw new Error(`round ${r}: ${left} postbacks left on the source, ${onTarget} on the target`);
    const row = { ingest_per_s: ingest, move_per_s: N / (moved.ms / 1000), runs: moved.runs, slices: moved.slices };
    console.log(`round ${r}${r === 0 ? ' (warm-up)' : ''}: ingest ${ingest.toFixed(0)}/s, move ${row.move_per_s.toFixed(0)}/s in ${moved.runs} cron runs, ${moved.slices} slices`);
    if (r > 0) rows.push(row);
  }
  const ingest = median(rows.map((x) => x.ingest_per_s));
  const moved = median(rows.map((x) => x.move_per_s));
  console.log(
    JSON.stringify({
      postbacks: N,
      rounds: ROUNDS,
      ingest_per_s: Math.round(ingest),
      move_per_s: Math.round(moved),
      ratio: Number((moved / ingest).toFixed(2)),
      cron_runs: median(rows.map((x) => x.runs)),
      slices: median(rows.map((x) => x.slices)),
    }),
  );
}

try {
  if (MOVE) await moveRounds();
  else await consumerRounds();
} finally {
  await mf.dispose();
  rmSync(out, { recursive: true, force: true });
}
