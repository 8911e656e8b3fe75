// Running a report over the rollup tables: never a scan of raw postbacks.
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from './db.js';
import { CAMPAIGN_METRICS, EVENT_METRICS, type Dimension } from '../report/dimensions.js';
import type { ReportQuery } from '../report/query.js';
import { csvLines } from '../report/csv.js';

export type ReportValue = string | number | boolean | null;

/**
 * Rows one report may return. Past it the answer is a 400, not a server that runs out of memory
 * while ingest shares its process: narrower dates, fewer dimensions or a filter bring it back.
 */
export const MAX_REPORT_ROWS = 100_000;

export class ReportTooLargeError extends Error {
  constructor() {
    super(`the report has more than ${MAX_REPORT_ROWS.toLocaleString('en')} rows: narrow the dates, group by fewer dimensions or add a filter`);
  }
}

export interface ReportResult {
  columns: string[];
  /** One array per row, aligned with `columns` (objects for 10⁴ rows cost more than the query). */
  rows: ReportValue[][];
  /** Every day in the range has received all the postbacks it will get. */
  complete: boolean;
}

// Metric definitions are applied when a postback is counted (rollup/contribution.ts): the
// query only adds stored counts up, and the few derived figures are computed here per row.
const CAMPAIGN_SUMS = [
  'postbacks', 'verified', 'installs', 'redownloads', 'reengagements', 'non_winning', 'window_0', 'window_1', 'window_2',
  'null_values', 'coarse_low', 'coarse_medium', 'coarse_high', 'conflicts', 'invalid', 'unverifiable', 'revenue_min_cents', 'revenue_max_cents',
] as const;
const EVENT_SUMS = ['postbacks', 'count_min', 'count_max'] as const;

// Positions in CAMPAIGN_SUMS of the figures the derived metrics need.
const VERIFIED = CAMPAIGN_SUMS.indexOf('verified');
const NULL_VALUES = CAMPAIGN_SUMS.indexOf('null_values');
const REVENUE_MIN = CAMPAIGN_SUMS.indexOf('revenue_min_cents');

/**
 * The campaign metrics in their public order from the summed counts. Revenue adds up only within
 * one currency; a group that mixes currencies says MIXED and gives no sum.
 */
function pushCampaignMetrics(out: ReportValue[], sums: number[], minCurrency: string | null, maxCurrency: string | null): void {
  const oneCurrency = minCurrency === maxCurrency;
  for (let i = 0; i < NULL_VALUES + 1; i++) out.push(sums[i]!);
  out.push(sums[VERIFIED] ? Math.round((sums[NULL_VALUES]! / sums[VERIFIED]!) * 1e6) / 1e6 : null);
  for (let i = NULL_VALUES + 1; i < REVENUE_MIN - 3; i++) out.push(sums[i]!); // coarse_low … coarse_high
  out.push(oneCurrency ? sums[REVENUE_MIN]! / 100 : null, oneCurrency ? sums[REVENUE_MIN + 1]! / 100 : null, oneCurrency ? minCurrency : 'MIXED');
  for (let i = REVENUE_MIN - 3; i < REVENUE_MIN; i++) out.push(sums[i]!); // conflicts, invalid, unverifiable
}

/** The column as analysts see it: sentinels back to null. */
function dimensionSql(dim: Dimension, localDay: string): string {
  if (dim.type === 'date') return localDay;
  const column = `"${dim.column}"`;
  if (dim.type === 'int') return dim.name === 'window' ? column : `nullif(${column}, -1)`;
  if (dim.type === 'bool') return `nullif(${column}, -1)`;
  return ['protocol', 'environment'].includes(dim.name) ? column : `nullif(${column}, '')`;
}

/** The app ids present in a rollup table, one primary-key seek each rather than a scan. */
const distinctApps = (table: string) =>
  `with recursive apps(id) as (select min(app_id) from ${table} union all select (select min(app_id) from ${table} where app_id > apps.id) from apps where apps.id is not null) select id from apps where id is not null`;

/** A filter value in the stored form (absent → sentinel). */
function storedValue(dim: Dimension, value: string | number | null): string | number {
  if (value !== null) return value;
  return dim.type === 'text' ? '' : -1;
}

export async function runReport(db: Db, query: ReportQuery, now: Date, fillingHorizonMs: number): Promise<ReportResult> {
  const table = query.kind === 'events' ? 'rollup_events' : 'rollups';
  const bucket = query.dateBasis === 'install' ? 'install_bucket' : 'arrival_bucket';
  const first = query.days[0]!;
  const last = query.days.at(-1)!;

  const where: SQL[] = [sql.raw(`${bucket} >= ${first.lo} and ${bucket} < ${last.hi}`)];
  for (const { dim, values } of query.filters) {
    const stored = values.map((v) => storedValue(dim, v));
    where.push(sql`${sql.raw(`"${dim.column}"`)} in (${sql.join(stored.map((v) => sql`${v}`), sql`, `)})`);
  }
  // The rollup tables are ordered by app, then time, and have no index on time alone (it would
  // cost every write): a report over every app walks the apps present, one key range each.
  if (!query.filters.some((f) => f.dim.name === 'app_id')) where.push(sql.raw(`app_id in (${distinctApps(table)})`));

  const groupDims = query.groupBy;
  const byDate = groupDims.some((g) => g.type === 'date');
  // The local day of a bucket: shift by the zone's offset in force then, whole days of 96 buckets.
  const offset = query.offsets.length === 1
    ? String(query.offsets[0]!.offset)
    : `case ${query.offsets.slice(1).map((o, i) => `when ${bucket} < ${o.bucket} then ${query.offsets[i]!.offset}`).join(' ')} else ${query.offsets.at(-1)!.offset} end`;
  const localDay = `(${bucket} + ${offset}) / 96`;
  const selectDims = groupDims.map((g) => `${dimensionSql(g, localDay)} as "${g.name}"`);
  const sums = query.kind === 'events' ? EVENT_SUMS : CAMPAIGN_SUMS;
  const byCampaign = groupDims.some((g) => g.name === 'campaign');
  const select = [
    ...selectDims,
    // total() never fails: sum() raises an error when integers overflow 64 bits.
    ...sums.map((m) => `total(${m})`),
    ...(query.kind === 'campaigns' ? [`min(case when verified != 0 then nullif(currency, '') end)`, `max(case when verified != 0 then nullif(currency, '') end)`] : []),
    // The name in force at install time was resolved per postback; a group shows it when it is one.
    ...(byCampaign ? ['min(campaign_name)', 'max(campaign_name)'] : []),
  ];
  const positions = groupDims.map((_, i) => i + 1).join(', ');
  const groupSql = groupDims.length ? sql.raw(` group by ${positions} order by ${positions}`) : sql.raw('');
  const statement = sql`select ${sql.raw(select.join(', '))} from ${sql.raw(table)} where ${sql.join(where, sql` and `)}${groupSql} limit ${sql.raw(String(MAX_REPORT_ROWS + 1))}`;
  const raw = await db.values<Array<string | number | null>>(statement);
  if (raw.length > MAX_REPORT_ROWS) throw new ReportTooLargeError();

  const completeAt = (day: { endMs: number }) => now.getTime() >= day.endMs + (query.dateBasis === 'install' ? fillingHorizonMs : 0);
  const dayByNumber = new Map(query.days.map((d) => [Math.round(Date.parse(`${d.day}T00:00:00Z`) / 86_400_000), { name: d.day, complete: completeAt(d) }]));
  const metricNames = query.kind === 'events' ? [...EVENT_METRICS] : [...CAMPAIGN_METRICS];
  const columns = [...groupDims.map((g) => g.name), ...metricNames, ...(byCampaign ? ['campaign_name'] : []), ...(byDate ? ['complete'] : [])];
  const rows: ReportValue[][] = [];
  const n = groupDims.length;
  for (const values of raw) {
    // Rollup rows can net to zero after a re-derive took a contribution back out: no real group.
    const postbacks = values[n] as number;
    if (n && postbacks === 0 && !(query.kind === 'campaigns' && values[n + CAMPAIGN_SUMS.indexOf('conflicts')])) continue;
    const out: ReportValue[] = [];
    let day: { name: string; complete: boolean } | undefined;
    for (let i = 0; i < n; i++) {
      const g = groupDims[i]!;
      const value = values[i]!;
      if (g.type === 'date') {
        day = dayByNumber.get(value as number);
        out.push(day?.name ?? null);
      } else {
        out.push(g.type === 'bool' && value !== null ? value === 1 : value);
      }
    }
    const sumsEnd = n + sums.length;
    if (query.kind === 'campaigns') pushCampaignMetrics(out, values.slice(n, sumsEnd) as number[], values[sumsEnd] as string | null, values[sumsEnd + 1] as string | null);
    else for (let i = n; i < sumsEnd; i++) out.push(values[i]!);
    const names = query.kind === 'campaigns' ? sumsEnd + 2 : sumsEnd;
    if (byCampaign) out.push(values[names] === values[names + 1] && values[names] !== '' ? values[names]! : null);
    if (byDate) out.push(day?.complete ?? false);
    rows.push(out);
  }
  return { columns, rows, complete: completeAt(last) };
}

/** The `meta` object of a JSON report. */
export function reportMeta(query: ReportQuery, now: Date, result: { complete: boolean; columns: string[] }) {
  return {
    from: query.from,
    to: query.to,
    tz: query.tz,
    date_basis: query.dateBasis,
    group_by: query.groupBy.map((g) => g.name),
    generated_at: now.toISOString(),
    complete: result.complete,
    columns: result.columns,
  };
}

/** The rows as JSON objects separated by commas (one shape for all rows, so V8 keeps them fast). */
function jsonObjects(columns: string[], rows: ReportValue[][]): string {
  // One object, refilled and stringified per row: building an object per row took as long as
  // stringifying them all (25,703 rows: 81 -> 42 ms).
  const object: Record<string, ReportValue> = Object.fromEntries(columns.map((c) => [c, null]));
  const parts = new Array<string>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    for (let i = 0; i < columns.length; i++) object[columns[i]!] = row[i]!;
    parts[r] = JSON.stringify(object);
  }
  return parts.join(',');
}


/** A report (or one run of its days), serialized: JSON objects joined by commas, or CSV lines. */
export interface ReportPart {
  columns: string[];
  rows: string;
  count: number;
  complete: boolean;
}

export async function renderReportPart(db: Db, query: ReportQuery, now: Date, fillingHorizonMs: number): Promise<ReportPart> {
  const result = await runReport(db, query, now, fillingHorizonMs);
  const rows = query.format === 'csv' ? csvLines(result.rows) : jsonObjects(result.columns, result.rows);
  return { columns: result.columns, rows, count: result.rows.length, complete: result.complete };
}

/**
 * The report's days in `n` runs of consecutive days, to be run side by side. Only when the date
 * leads `group_by`: then each run's rows are a contiguous stretch of the answer, in order.
 */
export function splitByDays(query: ReportQuery, n: number): ReportQuery[] {
  const runs = Math.min(n, query.days.length);
  if (runs < 2 || query.groupBy[0]?.type !== 'date') return [query];
  return Array.from({ length: runs }, (_, i) => ({
    ...query,
    days: query.days.slice(Math.floor((query.days.length * i) / runs), Math.floor((query.days.length * (i + 1)) / runs)),
  }));
}

/** The response body from a report's parts, in order; a 400 past MAX_REPORT_ROWS in all. */
export function reportBody(query: ReportQuery, now: Date, parts: ReportPart[]): string {
  if (parts.reduce((sum, p) => sum + p.count, 0) > MAX_REPORT_ROWS) throw new ReportTooLargeError();
  const columns = parts[0]!.columns;
  const rows = parts.filter((p) => p.count > 0).map((p) => p.rows);
  if (query.format === 'csv') return csvLines([columns]) + rows.join('');
  const meta = reportMeta(query, now, { complete: parts.every((p) => p.complete), columns });
  return `{"rows":[${rows.join(',')}],"meta":${JSON.stringify(meta)}}`;
}
