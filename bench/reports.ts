// `npm run bench:reports [-- --postbacks N --mmp M --runs R --dataset worst|realistic]`: load N postbacks'
// aggregates over 365 days (5 networks, 20 apps, 100 campaigns each, all windows, each campaign mapped
// to a network campaign id), M MMP postbacks' (default N / 5) and a network's uploaded daily installs
// per campaign, then
// time the real report path (HTTP route → reader threads → query → JSON / CSV, as the server runs it)
// for one app, 90 days, group_by=date,campaign,window, in America/Los_Angeles; and the discrepancy
// report of the same app and days by date and network campaign (SKAN, MMP and the uploads joined). `--keep` keeps the database and
// `--db PATH` times one kept before, without loading again. The loader writes the rollups exactly as ingest would (the same
// contributionOf), without raw bodies or signature checks: the report never reads those.
// `--dataset worst` (the default) draws every dimension uniformly, so nearly every postback is a
// rollup row of its own; `realistic` draws campaign sizes from a Zipf law, arrivals from a daily
// curve, conversion values skewed toward low ones, a few source identifiers per campaign and
// countries and publisher apps skewed as real traffic is. Both also keep the report's app's postbacks
// as raw rows (`postbacks`, bodies of a real postback's size) and time the same report computed from
// them at query time, as peers without aggregates do (prosper202 and its kind), for the ratio.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { tzOffset } from '@date-fns/tz';
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
import type { ReportValue } from '../src/report/metrics.js';
import { wholeReportBody } from '../src/report/render.js';
import { type Contributor, contributionOf } from '../src/rollup/contribution.js';
import { RAW_POSTBACK_COLUMNS } from './raw-columns.js';

const { values } = parseArgs({
  options: {
    postbacks: { type: 'string', default: '1000000' },
    mmp: { type: 'string' },
    runs: { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
    db: { type: 'string' },
    dataset: { type: 'string', default: 'worst' },
  },
});
if (values.dataset !== 'worst' && values.dataset !== 'realistic') throw new Error('--dataset: worst or realistic');
const REALISTIC = values.dataset === 'realistic';
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

/** A draw from `xs` weighted by `weights` (cumulative, searched by halves). */
function weighted<T>(xs: readonly T[], weights: readonly number[]): () => T {
  const cumulative: number[] = [];
  let total = 0;
  for (const w of weights) {
    total += w;
    cumulative.push(total);
  }
  return () => {
    const x = rand() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return xs[lo]!;
  };
}
const zipf = (n: number, s: number) => Array.from({ length: n }, (_, rank) => 1 / (rank + 1) ** s);
const CAMPAIGNS = Array.from({ length: 100 }, (_, c) => String(c).padStart(2, '0'));
const realistic = {
  campaign: weighted(CAMPAIGNS, zipf(100, 1.1)),
  network: weighted(NETWORKS, zipf(NETWORKS.length, 1)),
  country: weighted(COUNTRIES, [40, 10, 8, 6, 8, 6, 6, 5, 4, 3]),
  // Fine values fall off geometrically: most installs never reach a later milestone.
  fine: weighted(
    Array.from({ length: 64 }, (_, v) => v),
    Array.from({ length: 64 }, (_, v) => 0.85 ** v),
  ),
  coarse: weighted(['low', 'medium', 'high'] as const, [70, 20, 10]),
  publisher: weighted(
    Array.from({ length: 500 }, (_, i) => 500_000_000 + i),
    zipf(500, 1.2),
  ),
  // Installs by hour of day (UTC): a trough at night, a peak in the evening.
  hour: weighted(
    Array.from({ length: 24 }, (_, h) => h),
    Array.from({ length: 24 }, (_, h) => 1 + 0.8 * Math.sin(((h - 9) / 24) * 2 * Math.PI)),
  ),
};

/** When in `day` a postback arrives: uniform (worst case), or along the daily curve. */
const arrival = (dayStart: number) => (REALISTIC ? dayStart + realistic.hour() * 3_600_000 + Math.floor(rand() * 3_600_000) : dayStart + Math.floor(rand() * DAY));

function postbackAt(receivedAt: Date): Contributor {
  const window = rand() < 0.6 ? 0 : rand() < 0.6 ? 1 : 2;
  const campaign = REALISTIC ? realistic.campaign() : pick(CAMPAIGNS);
  const tier = rand();
  // Realistic: a campaign's ads carry one of three 4-digit source identifiers (its placements).
  const sourceIdentifier = REALISTIC
    ? window > 0 || tier < 0.3
      ? campaign
      : `${1 + Math.floor(rand() * 3)}0${campaign}`
    : window > 0 || tier < 0.3
      ? campaign
      : tier < 0.6
        ? `${Math.floor(rand() * 10)}${campaign}`
        : `${Math.floor(rand() * 90) + 10}${campaign}`;
  const didWin = window > 0 || rand() < 0.9;
  const fine = window === 0 && didWin && rand() < 0.8 ? (REALISTIC ? realistic.fine() : Math.floor(rand() * 64)) : null;
  const coarse = fine === null && didWin && rand() < 0.7 ? (REALISTIC ? realistic.coarse() : pick(['low', 'medium', 'high'] as const)) : null;
  return {
    protocol: 'skan',
    environment: 'production',
    signature: 'verified',
    outcome: 'stored',
    receivedAt,
    installedAt: estimateInstall(receivedAt, { protocol: 'skan', version: '4.0', window }, DEFAULT_INSTALL_MODEL),
    adNetworkId: REALISTIC ? realistic.network() : pick(NETWORKS),
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
    countryCode: REALISTIC ? realistic.country() : pick(COUNTRIES),
    conversionValue: fine,
    coarseConversionValue: coarse,
    sourceAppId: tier > 0.8 && window === 0 ? (REALISTIC ? realistic.publisher() : 500_000_000 + Math.floor(rand() * 500)) : null,
    sourceDomain: null,
    decode: null,
  };
}

/** The app every timed report asks for: its postbacks are kept raw too, for the query-time peer. */
const REPORT_APP = APPS[3]!;
// Not from `rand`: the aggregates stay those of earlier runs, draw for draw.
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');

/** A raw row as ingest keeps it, with a body of a signed SKAN 4.0 postback's size (~650 bytes). */
function rawRow(p: Contributor, i: number): unknown[] {
  const transactionId = `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${String(i).padStart(12, '0')}`;
  const body = JSON.stringify({
    version: '4.0',
    'ad-network-id': p.adNetworkId,
    'source-identifier': p.sourceIdentifier,
    'app-id': p.appId,
    'transaction-id': transactionId,
    redownload: p.redownload,
    'source-app-id': p.sourceAppId ?? undefined,
    'fidelity-type': p.fidelityType,
    'did-win': p.didWin,
    'postback-sequence-index': p.postbackSequenceIndex,
    'conversion-value': p.conversionValue ?? undefined,
    'coarse-conversion-value': p.coarseConversionValue ?? undefined,
    'attribution-signature': Buffer.from(hex(144), 'hex').toString('base64'),
  });
  const dedupeKey = `skan|production|${p.adNetworkId}|${transactionId}|${p.postbackSequenceIndex}`;
  return [
    p.receivedAt.getTime(),
    p.protocol,
    p.environment,
    p.version,
    p.signature,
    '[]',
    p.outcome,
    dedupeKey,
    hex(64),
    body,
    p.adNetworkId,
    transactionId,
    p.postbackSequenceIndex,
    p.sourceIdentifier,
    p.appId,
    p.sourceAppId,
    p.redownload ? 1 : 0,
    p.fidelityType,
    p.didWin ? 1 : 0,
    p.conversionValue,
    p.coarseConversionValue,
    p.countryCode,
    p.campaign,
    p.installedAt?.getTime() ?? null,
    p.campaignName,
    p.networkCampaignId,
  ];
}

function load(path: string): { seconds: number; rollupRows: number; rawRows: number } {
  const started = performance.now();
  const { sqlite } = openDatabase(path, { synchronous: 'normal' });
  const raw = sqlite.prepare(`insert into postbacks (${RAW_POSTBACK_COLUMNS.join(', ')}) values (${RAW_POSTBACK_COLUMNS.map(() => '?').join(', ')})`);
  let rawRows = 0;
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
    const kept: unknown[][] = [];
    const target = Math.round(perDay * (day + 1));
    for (; made < target; made++) {
      const postback = postbackAt(new Date(arrival(END - (365 - day) * DAY)));
      if (postback.appId === REPORT_APP) kept.push(rawRow(postback, made));
      const contribution = contributionOf(postback)!;
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
      for (const row of kept) raw.run(...row);
    })();
    rawRows += kept.length;
    if (day % 73 === 72) process.stderr.write(`  loaded ${made.toLocaleString()} postbacks\n`);
  }
  sqlite.pragma('optimize');
  const rollupRows = (sqlite.prepare('select count(*) as n from rollups').get() as { n: number }).n;
  sqlite.close();
  return { seconds: (performance.now() - started) / 1000, rollupRows, rawRows };
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
      const eventTime = new Date(arrival(END - (365 - day) * DAY));
      const roll = rand();
      const outcome = roll < 0.9 ? 'accepted' : roll < 0.95 ? 'fraud_rejected' : 'unattributed';
      const install = rand() < 0.6;
      const campaign = REALISTIC ? realistic.campaign() : pick(CAMPAIGNS);
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
        adNetworkId: clicked ? (REALISTIC ? realistic.network() : pick(NETWORKS)) : null,
        linkId: clicked ? Number(campaign) + 1 : null,
        networkCampaignId: clicked ? `nc-${campaign}` : null,
        campaign: clicked ? campaign : null,
        touchType: clicked ? 'click' : null,
        countryCode: REALISTIC ? realistic.country() : pick(COUNTRIES),
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

/** `run` timed RUNS times after 3 runs that warm the page cache and the JIT: p50 and p95 in ms. */
function timeRuns(run: () => void): { p50: number; p95: number } {
  const times: number[] = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const t = performance.now();
    run();
    if (i >= 3) times.push(performance.now() - t);
  }
  return { p50: quantile(times, 0.5), p95: quantile(times, 0.95) };
}
const percentiles = ({ p50, p95 }: { p50: number; p95: number }) => `p50 ${p50.toFixed(1)} ms  p95 ${p95.toFixed(1)} ms`;

async function main() {
  const dir = values.db ? undefined : mkdtempSync(join(tmpdir(), 'skanpost-bench-'));
  const path = values.db ?? join(dir!, 'bench.db');
  if (values.db && !existsSync(values.db)) throw new Error(`--db ${values.db}: no such file`);
  console.log(`bench:reports — ${values.db ? `the database at ${values.db}` : `${N.toLocaleString()} postbacks`}, ${RUNS} timed runs per format (node ${process.version})`);
  if (!values.db) {
    const loaded = load(path);
    console.log(
      `loaded the ${values.dataset} dataset in ${loaded.seconds.toFixed(1)} s: ${loaded.rollupRows.toLocaleString()} rollup rows (${(loaded.rollupRows / N).toFixed(2)} per postback), ${loaded.rawRows.toLocaleString()} raw postbacks of app ${REPORT_APP}`,
    );
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
  // The report's days, in a zone whose offset does not change within them (the in-process queries assume one).
  const lo = Date.UTC(2026, 6, 1, 7);
  const hi = Date.UTC(2026, 8, 29, 7);
  const offset = tzOffset('America/Los_Angeles', new Date(lo));
  if (offset !== tzOffset('America/Los_Angeles', new Date(hi))) throw new Error('the range crosses a change of offset: the peer query assumes one');
  // And skanpost's side the same way, in process, without HTTP and reader threads: the rollup query
  // the report runs (its sums, currencies and names), rendered as JSON. SQL against SQL.
  const bucket = 900_000;
  const own = reader.sqlite.prepare(`select (arrival_bucket + ${(offset * 60_000) / bucket}) / 96 as day, nullif(campaign, '') as campaign, "window",
      ${ROLLUP_MEASURES.map((m) => `total(${rollups[m].name}) as ${rollups[m].name}`).join(', ')},
      min(case when verified != 0 then nullif(currency, '') end) as currency_min, max(case when verified != 0 then nullif(currency, '') end) as currency_max,
      min(campaign_name) as campaign_name_min, max(campaign_name) as campaign_name_max
    from rollups where app_id = ? and arrival_bucket >= ? and arrival_bucket < ? group by 1, 2, 3 order by 1, 2, 3`);
  // What a table kept at this answer's own grain (app, the zone's day, campaign, window) would give,
  // measured before anything is built (and first, while this process holds little that garbage
  // collection must walk): filled here once by the rollup query itself (a TEMP table on the writing
  // connection, gone when it closes; skanpost keeps no such table), then read by range and
  // serialized as the report serializes, on one thread.
  {
    const writing = writerDb.sqlite;
    writing.exec('drop table if exists temp.answer_grain');
    writing.exec(`create temp table answer_grain as select ${REPORT_APP} as app_id, * from (${own.source.replaceAll('?', 'NULL')}) limit 0`);
    writing.prepare(`insert into temp.answer_grain select ${REPORT_APP}, * from (${own.source})`).run(REPORT_APP, lo / bucket, hi / bucket);
    writing.exec('create index temp.answer_grain_key on answer_grain (app_id, day, campaign, "window")');
    const read = writing.prepare('select * from temp.answer_grain where app_id = ? and day >= ? and day < ? order by day, campaign, "window"').raw();
    const [first, last] = [(lo / bucket + (offset * 60_000) / bucket) / 96, (hi / bucket + (offset * 60_000) / bucket) / 96];
    const columns = read.columns().map((c) => c.name);
    let rows = 0;
    const inJs = timeRuns(() => {
      const cells = read.all(REPORT_APP, first, last) as ReportValue[][];
      new TextEncoder().encode(wholeReportBody({ columns, rows: cells, meta: {} }, 'json'));
      rows = cells.length;
    });
    console.log(`a table at the answer's grain (measured, not kept), read and serialized as JSON, in process: ${percentiles(inJs)}  (${rows.toLocaleString()} rows)`);
    // The same rows rendered as JSON by SQLite itself (json_object per row), so that no value is
    // turned into a JavaScript one first: what the fastest renderer in this process could do.
    const rendered = writing
      .prepare(
        `select group_concat(json_object(${columns.map((c) => `'${c}', "${c}"`).join(', ')}), ',') from
          (select * from temp.answer_grain where app_id = ? and day >= ? and day < ? order by day, campaign, "window")`,
      )
      .pluck();
    const inSqlite = timeRuns(() => new TextEncoder().encode(`{"rows":[${rendered.get(REPORT_APP, first, last) as string}]}`));
    console.log(`the same rows rendered as JSON by SQLite (json_object), in process:                          ${percentiles(inSqlite)}`);
    writing.exec('drop table temp.answer_grain');
  }

  const range = `from=2026-07-01&to=2026-09-28&tz=America/Los_Angeles&app_id=${REPORT_APP}`;
  const reports = [
    ['campaigns', (format: string) => `/v1/reports/campaigns?${range}&group_by=date,campaign,window&format=${format}`],
    // The same app and days: SKAN by install date, MMP by event date, the uploads, side by side.
    ['discrepancies', (format: string) => `/v1/reports/discrepancies?${range}&group_by=date,network_campaign_id&format=${format}`],
  ] as const;
  const p50: Record<string, number> = {};
  let campaignsJson = '';
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
        else if (name === 'campaigns') campaignsJson = text;
      }
      p50[`${name} ${format}`] = quantile(times, 0.5);
      console.log(
        `${name.padEnd(13)} ${format.padEnd(4)} p50 ${quantile(times, 0.5).toFixed(1)} ms  p95 ${quantile(times, 0.95).toFixed(1)} ms  (${(size / 1024).toFixed(0)} KiB${rows ? `, ${rows.toLocaleString()} rows` : ''})`,
      );
    }
  }
  console.log(`discrepancies / campaigns, p50 JSON: ${(p50['discrepancies json']! / p50['campaigns json']!).toFixed(2)}`);

  // The answer's own floor: the campaign report's rows already in hand, only serialized as reports
  // serialize them, to the bytes a server sends. No storage makes the report faster than this (on
  // Node the reader threads serialize their runs of days side by side, at best halving it).
  {
    const answer = JSON.parse(campaignsJson) as { rows: Array<Record<string, ReportValue>>; meta: { columns: string[] } };
    const columns = answer.meta.columns;
    const cells = answer.rows.map((row) => columns.map((c) => row[c]!));
    for (const format of ['json', 'csv'] as const) {
      const serialized = timeRuns(() => new TextEncoder().encode(wholeReportBody({ columns, rows: cells, meta: answer.meta }, format)));
      console.log(`the campaign answer alone, serialized (${cells.length.toLocaleString()} rows, no SQL): ${format.padEnd(4)} ${percentiles(serialized)}`);
    }
  }

  // The peer: the same report (a row per local day, campaign and window, the campaign report's
  // counts) computed from the raw rows when asked, rendered as JSON.
  const peer = reader.sqlite.prepare(`select (received_at + ${offset * 60_000}) / ${DAY} as day, campaign, postback_sequence_index as "window",
      count(*) as postbacks, total(signature = 'verified') as verified,
      total(signature = 'verified' and did_win and postback_sequence_index = 0 and not redownload) as installs,
      total(signature = 'verified' and redownload) as redownloads, total(signature = 'verified' and not did_win) as non_winning,
      total(postback_sequence_index = 0) as window_0, total(postback_sequence_index = 1) as window_1, total(postback_sequence_index = 2) as window_2,
      total(conversion_value is null and coarse_conversion_value is null) as null_values,
      total(coarse_conversion_value = 'low') as coarse_low, total(coarse_conversion_value = 'medium') as coarse_medium, total(coarse_conversion_value = 'high') as coarse_high,
      total(outcome = 'conflict') as conflicts, total(signature = 'invalid') as invalid, total(signature = 'unverifiable') as unverifiable,
      min(campaign_name) as campaign_name
    from postbacks where app_id = ? and received_at >= ? and received_at < ? group by 1, 2, 3 order by 1, 2, 3`);
  const timed = (run: () => unknown[]) => {
    let rows = 0;
    const times = timeRuns(() => {
      const result = run();
      if (!JSON.stringify({ rows: result })) throw new Error('no answer');
      rows = result.length;
    });
    return { ...times, rows };
  };
  const ownRun = timed(() => own.all(REPORT_APP, lo / bucket, hi / bucket));
  console.log(`skanpost's rollup query, in process:                 ${percentiles(ownRun)}  (${ownRun.rows.toLocaleString()} rows)`);

  if (!reader.sqlite.prepare('select 1 from postbacks where app_id = ? limit 1').get(REPORT_APP)) {
    console.log('no raw postbacks in this database (loaded by an earlier version of the bench): the query-time peer is not timed');
  } else {
    const peerRun = timed(() => peer.all(REPORT_APP, lo, hi));
    console.log(`query-time peer (the app's raw postbacks), in process: ${percentiles(peerRun)}  (${peerRun.rows.toLocaleString()} rows)`);
    console.log(
      `peer / skanpost, p50: ${(peerRun.p50 / ownRun.p50).toFixed(2)} in process; ${(peerRun.p50 / p50['campaigns json']!).toFixed(2)} against the report over HTTP (JSON)`,
    );
  }
  await threads.close();
  reader.sqlite.close();
  writerDb.sqlite.close();
  if (dir && !values.keep) rmSync(dir, { recursive: true, force: true });
  else if (dir) console.log(`database kept at ${path}`);
}

await main();
