// `npm run bench:reports [-- --postbacks N --runs R]`: load N postbacks' aggregates over 365 days
// (5 networks, 20 apps, 100 campaigns each, all windows), then time the real report path
// (HTTP route → reader threads → query → JSON / CSV, as the server runs it) for one app, 90 days,
// group_by=date,campaign,window, in America/Los_Angeles. `--keep` keeps the database and
// `--db PATH` times one kept before, without loading again. The loader writes the rollups exactly as ingest would (the same
// contributionOf), without raw bodies or signature checks: the report never reads those.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { campaignOf } from '../src/conversion/campaign.js';
import { DEFAULT_INSTALL_MODEL, estimateInstall } from '../src/conversion/install-date.js';
import { ROLLUP_KEY, ROLLUP_MEASURES, rollups } from '../src/db/schema.js';
import { createApp } from '../src/http/app.js';
import { openDatabase, openReader } from '../src/node/database.js';
import { GroupCommitWriter } from '../src/node/group-commit.js';
import { ReportThreads } from '../src/node/report-threads.js';
import { createVerification, nodeClickDeps } from '../src/node/runtime.js';
import { IngestMetrics } from '../src/observability/metrics.js';
import { type Contributor, contributionOf } from '../src/rollup/contribution.js';

const { values } = parseArgs({
  options: { postbacks: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '30' }, keep: { type: 'boolean', default: false }, db: { type: 'string' } },
});
const N = Number(values.postbacks);
const RUNS = Number(values.runs);
const DAY = 86_400_000;
const END = Date.UTC(2026, 10, 1);
const NETWORKS = ['net-a.skadnetwork', 'net-b.skadnetwork', 'net-c.skadnetwork', 'net-d.skadnetwork', 'net-e.skadnetwork'];
const APPS = Array.from({ length: 20 }, (_, i) => 1_000_000 + i);
const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'JP', 'BR', 'IN', 'CA', 'AU', 'KR'];

// mulberry32: deterministic, so every run loads the same data, and 32-bit integer math
// throughout (a textbook LCG in doubles loses precision and cycles early).
let seed = 42;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;

function postbackAt(receivedAt: Date): Contributor {
  const window = rand() < 0.6 ? 0 : rand() < 0.6 ? 1 : 2;
  const campaign = String(Math.floor(rand() * 100)).padStart(2, '0');
  const tier = rand();
  const sourceIdentifier = window > 0 || tier < 0.3 ? campaign : tier < 0.6 ? `${Math.floor(rand() * 10)}${campaign}` : `${Math.floor(rand() * 90) + 10}${campaign}`;
  const didWin = window > 0 || rand() < 0.9;
  const fine = window === 0 && didWin && rand() < 0.8 ? Math.floor(rand() * 64) : null;
  const coarse = fine === null && didWin && rand() < 0.7 ? pick(['low', 'medium', 'high'] as const) : null;
  return {
    protocol: 'skan',
    environment: 'production',
    signature: 'verified',
    outcome: 'stored',
    receivedAt,
    installedAt: estimateInstall(receivedAt, { protocol: 'skan', version: '4.0', window }, DEFAULT_INSTALL_MODEL),
    adNetworkId: pick(NETWORKS),
    appId: pick(APPS),
    campaign: campaignOf({ sourceIdentifier, campaignId: null }),
    campaignName: null,
    networkCampaignId: null,
    sourceIdentifier,
    postbackSequenceIndex: window,
    fidelityType: rand() < 0.8 ? 1 : 0,
    redownload: rand() < 0.1,
    didWin,
    version: '4.0',
    conversionType: null,
    adInteractionType: null,
    countryCode: pick(COUNTRIES),
    conversionValue: fine,
    coarseConversionValue: coarse,
    sourceAppId: tier > 0.8 && window === 0 ? 500_000_000 + Math.floor(rand() * 500) : null,
    sourceDomain: null,
    decode: null,
  };
}

function load(path: string): { seconds: number; rollupRows: number } {
  const started = performance.now();
  const { sqlite } = openDatabase(path, { synchronous: 'normal' });
  const measures = ROLLUP_MEASURES.map((m) => rollups[m].name);
  const columns = [...ROLLUP_KEY.map((k) => rollups[k].name), ...measures];
  const insert = sqlite.prepare(
    `insert into rollups (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})
     on conflict do update set ${measures.map((m) => `${m} = ${m} + excluded.${m}`).join(', ')}`,
  );
  const perDay = N / 365;
  let made = 0;
  for (let day = 0; day < 365; day++) {
    // Keys from different arrival days never meet, so one day at a time keeps memory flat.
    const groups = new Map<string, unknown[]>();
    const target = Math.round(perDay * (day + 1));
    for (; made < target; made++) {
      const contribution = contributionOf(postbackAt(new Date(END - (365 - day) * DAY + Math.floor(rand() * DAY))))!;
      const key = ROLLUP_KEY.map((k) => contribution.key[k]);
      const id = key.join('\u0000');
      const sums = ROLLUP_MEASURES.map((m) => contribution.measures[m]);
      const existing = groups.get(id);
      if (existing) {
        for (const [i, v] of sums.entries()) (existing[key.length + i] as number) += v;
      } else groups.set(id, [...key, ...sums]);
    }
    sqlite.transaction(() => {
      for (const row of groups.values()) insert.run(...row);
    })();
    if (day % 73 === 72) process.stderr.write(`  loaded ${made.toLocaleString()} postbacks\n`);
  }
  sqlite.pragma('optimize');
  const rollupRows = (sqlite.prepare('select count(*) as n from rollups').get() as { n: number }).n;
  sqlite.close();
  return { seconds: (performance.now() - started) / 1000, rollupRows };
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function main() {
  const dir = values.db ? undefined : mkdtempSync(join(tmpdir(), 'skanpost-bench-'));
  const path = values.db ?? join(dir!, 'bench.db');
  if (values.db && !existsSync(values.db)) throw new Error(`--db ${values.db}: no such file`);
  console.log(`bench:reports — ${values.db ? `the database at ${values.db}` : `${N.toLocaleString()} postbacks`}, ${RUNS} timed runs per format (node ${process.version})`);
  if (!values.db) {
    const loaded = load(path);
    console.log(`loaded in ${loaded.seconds.toFixed(1)} s: ${loaded.rollupRows.toLocaleString()} rollup rows`);
  }

  const reader = openReader(path);
  const writerDb = openDatabase(path);
  const ADMIN = 'bench-admin-key-0123456789';
  const threads = new ReportThreads(path);
  const benchWriter = new GroupCommitWriter(writerDb.sqlite, writerDb.db);
  const app = createApp({
    ...nodeClickDeps(benchWriter, [], () => new Date(END), { info() {}, warn() {}, error() {} }).deps,
    reports: threads.run,
    metrics: new IngestMetrics(),
    db: reader.db,
    adminKey: ADMIN,
    verification: await createVerification(''),
    writer: benchWriter,
    now: () => new Date(END),
    installModel: DEFAULT_INSTALL_MODEL,
    logger: { info() {}, warn() {}, error() {} },
    health: async () => true,
  });
  const url = (format: string) => `/v1/reports/campaigns?from=2026-07-01&to=2026-09-28&tz=America/Los_Angeles&group_by=date,campaign,window&app_id=${APPS[3]}&format=${format}`;
  for (const format of ['json', 'csv']) {
    const times: number[] = [];
    let size = 0;
    for (let i = 0; i < RUNS + 3; i++) {
      const t = performance.now();
      const response = await app.request(url(format), { headers: { Authorization: `Bearer ${ADMIN}` } });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`report failed: ${response.status} ${text}`);
      if (i >= 3) times.push(performance.now() - t); // the first runs warm the page cache
      size = text.length;
    }
    console.log(`${format.padEnd(4)} p50 ${quantile(times, 0.5).toFixed(1)} ms  p95 ${quantile(times, 0.95).toFixed(1)} ms  (${(size / 1024).toFixed(0)} KiB)`);
  }
  await threads.close();
  reader.sqlite.close();
  writerDb.sqlite.close();
  if (dir && !values.keep) rmSync(dir, { recursive: true, force: true });
  else if (dir) console.log(`database kept at ${path}`);
}

await main();
