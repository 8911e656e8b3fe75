// `npm run bench:reports [-- --postbacks N --mmp M --runs R]`: load N postbacks' aggregates over 365 days
// (5 networks, 20 apps, 100 campaigns each, all windows, each campaign mapped to a network campaign
// id), M MMP postbacks' (default N / 5) and a network's uploaded daily installs per campaign, then
// time the real report path (HTTP route → reader threads → query → JSON / CSV, as the server runs it)
// for one app, 90 days, group_by=date,campaign,window, in America/Los_Angeles; and the discrepancy
// report of the same app and days by date and network campaign (SKAN, MMP and the uploads joined). `--keep` keeps the database and
// `--db PATH` times one kept before, without loading again. The loader writes the rollups exactly as ingest would (the same
// contributionOf), without raw bodies or signature checks: the report never reads those.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { campaignOf } from '../src/conversion/campaign.js';
import { DEFAULT_INSTALL_MODEL, estimateInstall } from '../src/conversion/install-date.js';
import { MMP_ROLLUP_KEY, MMP_ROLLUP_MEASURES, mmpRollups, ROLLUP_KEY, ROLLUP_MEASURES, rollups } from '../src/db/schema.js';
import { createApp } from '../src/http/app.js';
import { mmpCountsOf } from '../src/mmp/intake.js';
import { createVerification } from '../src/node/crypto.js';
import { openDatabase, openReader } from '../src/node/database.js';
import { GroupCommitWriter } from '../src/node/group-commit.js';
import { ReportThreads } from '../src/node/report-threads.js';
import { nodeClickDeps } from '../src/node/runtime.js';
import { IngestMetrics } from '../src/observability/metrics.js';
import { type Contributor, contributionOf } from '../src/rollup/contribution.js';

const { values } = parseArgs({
  options: {
    postbacks: { type: 'string', default: '1000000' },
    mmp: { type: 'string' },
    runs: { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
    db: { type: 'string' },
  },
});
const N = Number(values.postbacks);
const M = values.mmp === undefined ? Math.round(N / 5) : Number(values.mmp);
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
    campaignName: `Campaign ${campaign}`,
    networkCampaignId: `nc-${campaign}`,
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

/**
 * M MMP postbacks over the same 365 days, through the same count function as the intake: installs
 * (60 %) and purchases with revenue, 90 % accepted with a click on a link of the campaign, the rest
 * fraud-rejected or unattributed. And the network's own daily install count per campaign of each
 * app, as an upload would store it (in the report's zone).
 */
function loadMmp(path: string): { seconds: number; rollupRows: number } {
  const started = performance.now();
  const { sqlite } = openDatabase(path, { synchronous: 'normal' });
  const columns = [...MMP_ROLLUP_KEY, ...MMP_ROLLUP_MEASURES].map((k) => mmpRollups[k].name);
  const measures = MMP_ROLLUP_MEASURES.map((m) => mmpRollups[m].name);
  const insert = sqlite.prepare(
    `insert into mmp_rollups (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})
     on conflict do update set ${measures.map((m) => `${m} = ${m} + excluded.${m}`).join(', ')}`,
  );
  let made = 0;
  for (let day = 0; day < 365; day++) {
    const groups = new Map<string, number[] & unknown[]>();
    const target = Math.round((M / 365) * (day + 1));
    for (; made < target; made++) {
      const eventTime = new Date(END - (365 - day) * DAY + Math.floor(rand() * DAY));
      const roll = rand();
      const outcome = roll < 0.9 ? 'accepted' : roll < 0.95 ? 'fraud_rejected' : 'unattributed';
      const install = rand() < 0.6;
      const campaign = String(Math.floor(rand() * 100)).padStart(2, '0');
      const clicked = outcome === 'accepted';
      const ctitSeconds = Math.floor(rand() * 86_400);
      const counts = mmpCountsOf({
        partnerId: 1,
        receivedAt: new Date(eventTime.getTime() + 60_000),
        outcome,
        eventName: install ? 'install' : 'purchase',
        eventTime,
        clickTime: clicked ? new Date(eventTime.getTime() - ctitSeconds * 1000) : null,
        appId: pick(APPS),
        adNetworkId: clicked ? pick(NETWORKS) : null,
        linkId: clicked ? Number(campaign) + 1 : null,
        networkCampaignId: clicked ? `nc-${campaign}` : null,
        campaign: clicked ? campaign : null,
        touchType: clicked ? 'click' : null,
        countryCode: pick(COUNTRIES),
        sub1: null,
        currency: install ? null : 'USD',
        revenue: install ? null : Math.round(rand() * 2000) / 100,
        isReattribution: false,
        ctitSeconds: clicked && install ? ctitSeconds : null,
      } as unknown as Parameters<typeof mmpCountsOf>[0]);
      const row = [...MMP_ROLLUP_KEY.map((k) => counts[k]), ...MMP_ROLLUP_MEASURES.map((m) => counts[m])] as number[];
      const id = row.slice(0, MMP_ROLLUP_KEY.length).join('\u0000');
      const existing = groups.get(id);
      if (existing) for (let i = MMP_ROLLUP_KEY.length; i < row.length; i++) existing[i] = (existing[i] as number) + (row[i] as number);
      else groups.set(id, row);
    }
    sqlite.transaction(() => {
      for (const row of groups.values()) insert.run(...row);
    })();
  }
  // The network's dashboard: installs per day and campaign of each app (one network per app: a
  // network uploads its own figures).
  const upload = sqlite.prepare(
    `insert into reported_figures (source, date, tz, app_id, ad_network_id, campaign, network_campaign_id, metric, event, value, currency, uploaded_at)
     values ('network', ?, 'America/Los_Angeles', ?, ?, '', ?, 'installs', '', ?, '', 0)`,
  );
  sqlite.transaction(() => {
    for (let day = 0; day < 365; day++) {
      const date = new Date(END - (365 - day) * DAY).toISOString().slice(0, 10);
      for (const [i, app] of APPS.entries())
        for (let c = 0; c < 100; c++) upload.run(date, app, NETWORKS[i % NETWORKS.length], `nc-${String(c).padStart(2, '0')}`, Math.floor(rand() * 20));
    }
  })();
  sqlite.pragma('optimize');
  const rollupRows = (sqlite.prepare('select count(*) as n from mmp_rollups').get() as { n: number }).n;
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
    const mmp = loadMmp(path);
    console.log(`loaded ${M.toLocaleString()} MMP postbacks in ${mmp.seconds.toFixed(1)} s: ${mmp.rollupRows.toLocaleString()} MMP rollup rows, and the network's daily installs`);
  }

  const reader = openReader(path);
  const writerDb = openDatabase(path);
  const ADMIN = 'bench-admin-key-0123456789';
  const threads = new ReportThreads(path);
  const benchWriter = new GroupCommitWriter(writerDb.sqlite, writerDb.db);
  const app = createApp({
    ...nodeClickDeps(benchWriter, [], () => new Date(END), { info() {}, warn() {}, error() {} }).deps,
    reports: threads.run,
    wholeReports: threads.runWhole,
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
  const range = `from=2026-07-01&to=2026-09-28&tz=America/Los_Angeles&app_id=${APPS[3]}`;
  const reports = [
    ['campaigns', (format: string) => `/v1/reports/campaigns?${range}&group_by=date,campaign,window&format=${format}`],
    // The same app and days: SKAN by install date, MMP by event date, the uploads, side by side.
    ['discrepancies', (format: string) => `/v1/reports/discrepancies?${range}&group_by=date,network_campaign_id&format=${format}`],
  ] as const;
  const p50: Record<string, number> = {};
  for (const [name, url] of reports) {
    for (const format of ['json', 'csv']) {
      const times: number[] = [];
      let size = 0;
      let rows = 0;
      for (let i = 0; i < RUNS + 3; i++) {
        const t = performance.now();
        const response = await app.request(url(format), { headers: { Authorization: `Bearer ${ADMIN}` } });
        const text = await response.text();
        if (response.status !== 200) throw new Error(`report failed: ${response.status} ${text}`);
        if (i >= 3) times.push(performance.now() - t); // the first runs warm the page cache
        size = text.length;
        if (format === 'csv') rows = text.split('\r\n').length - 2;
      }
      p50[`${name} ${format}`] = quantile(times, 0.5);
      console.log(
        `${name.padEnd(13)} ${format.padEnd(4)} p50 ${quantile(times, 0.5).toFixed(1)} ms  p95 ${quantile(times, 0.95).toFixed(1)} ms  (${(size / 1024).toFixed(0)} KiB${rows ? `, ${rows.toLocaleString()} rows` : ''})`,
      );
    }
  }
  console.log(`discrepancies / campaigns, p50 JSON: ${(p50['discrepancies json']! / p50['campaigns json']!).toFixed(2)}`);
  await threads.close();
  reader.sqlite.close();
  writerDb.sqlite.close();
  if (dir && !values.keep) rmSync(dir, { recursive: true, force: true });
  else if (dir) console.log(`database kept at ${path}`);
}

await main();
