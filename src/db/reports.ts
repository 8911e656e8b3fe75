// Running a report over the rollup tables: never a scan of raw postbacks.
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from './db.js';
import { CAMPAIGN_METRICS, EVENT_METRICS, type Dimension } from '../rollup/dimensions.js';
import type { ReportQuery } from '../rollup/report-query.js';

export type ReportRow = Record<string, string | number | boolean | null>;

export interface ReportResult {
  columns: string[];
  rows: ReportRow[];
  /** Every day in the range has received all the postbacks it will get. */
  complete: boolean;
}

// A real postback: verified, or development when development is asked for.
const H = `signature in ('verified','development')`;
const WINNING = `did_win != 0`; // SKAN < 3 has no did-win: only the winner gets a postback
const count = (cond: string) => `coalesce(sum(case when ${cond} then postbacks end), 0)`;
const REVENUE_ONE_CURRENCY = `count(distinct case when ${H} and currency != '' then currency end) <= 1`;

const CAMPAIGN_SQL: Record<(typeof CAMPAIGN_METRICS)[number], string> = {
  postbacks: 'coalesce(sum(postbacks), 0)',
  verified: count(H),
  installs: count(`${H} and window = 0 and ${WINNING} and ((protocol = 'skan' and redownload != 1) or (protocol = 'aak' and conversion_type = 'download'))`),
  redownloads: count(`${H} and window = 0 and ${WINNING} and ((protocol = 'skan' and redownload = 1) or (protocol = 'aak' and conversion_type = 'redownload'))`),
  reengagements: count(`${H} and window = 0 and ${WINNING} and protocol = 'aak' and conversion_type = 're-engagement'`),
  non_winning: count(`${H} and did_win = 0`),
  window_0: count(`${H} and window = 0`),
  window_1: count(`${H} and window = 1`),
  window_2: count(`${H} and window = 2`),
  null_values: count(`${H} and conversion_value = -1 and coarse_conversion_value = ''`),
  null_rate: `round(1.0 * ${count(`${H} and conversion_value = -1 and coarse_conversion_value = ''`)} / nullif(${count(H)}, 0), 6)`,
  coarse_low: count(`${H} and coarse_conversion_value = 'low'`),
  coarse_medium: count(`${H} and coarse_conversion_value = 'medium'`),
  coarse_high: count(`${H} and coarse_conversion_value = 'high'`),
  revenue_min: `case when ${REVENUE_ONE_CURRENCY} then round(coalesce(sum(case when ${H} then revenue_min_micros end), 0) / 1e6, 6) end`,
  revenue_max: `case when ${REVENUE_ONE_CURRENCY} then round(coalesce(sum(case when ${H} then revenue_max_micros end), 0) / 1e6, 6) end`,
  currency: `case when ${REVENUE_ONE_CURRENCY} then max(case when ${H} and currency != '' then currency end) else 'MIXED' end`,
  conflicts: 'coalesce(sum(conflicts), 0)',
  invalid: count(`signature = 'invalid'`),
  unverifiable: count(`signature = 'unverifiable'`),
};

const EVENT_SQL: Record<(typeof EVENT_METRICS)[number], string> = {
  postbacks: count(H),
  count_min: `coalesce(sum(case when ${H} then count_min end), 0)`,
  count_max: `coalesce(sum(case when ${H} then count_max end), 0)`,
};

/** The column as analysts see it: sentinels back to null. */
function dimensionSql(dim: Dimension): string {
  if (dim.type === 'date') return 'days.day';
  const column = `"${dim.column}"`;
  if (dim.type === 'int') return dim.name === 'window' ? column : `nullif(${column}, -1)`;
  if (dim.type === 'bool') return `nullif(${column}, -1)`;
  return ['protocol', 'environment'].includes(dim.name) ? column : `nullif(${column}, '')`;
}

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

  const groupDims = query.groupBy;
  const byDate = groupDims.some((g) => g.type === 'date');
  const selectDims = groupDims.map((g) => `${dimensionSql(g)} as "${g.name}"`);
  const metrics = Object.entries(query.kind === 'events' ? EVENT_SQL : CAMPAIGN_SQL).map(([name, expr]) => `${expr} as "${name}"`);
  const byCampaign = groupDims.some((g) => g.name === 'campaign');
  // The name in force at install time was resolved per postback; a group shows it when it is one.
  const extra = byCampaign ? [`case when count(distinct campaign_name) = 1 then nullif(max(campaign_name), '') end as "campaign_name"`] : [];

  const daysCte = byDate
    ? sql.raw(`with days(day, lo, hi) as (values ${query.days.map((d) => `('${d.day}', ${d.lo}, ${d.hi})`).join(', ')}) `)
    : sql.raw('');
  const from = byDate ? sql.raw(`${table} join days on ${bucket} >= days.lo and ${bucket} < days.hi`) : sql.raw(table);
  const positions = groupDims.map((_, i) => i + 1).join(', ');
  // Rollup rows can net to zero after a re-derive took a contribution back out: not a real group.
  const having = query.kind === 'events' ? 'sum(postbacks) != 0' : 'sum(postbacks) != 0 or sum(conflicts) != 0';
  const groupSql = groupDims.length ? sql.raw(` group by ${positions} having ${having} order by ${positions}`) : sql.raw('');

  const statement = sql`${daysCte}select ${sql.raw([...selectDims, ...metrics, ...extra].join(', '))} from ${from} where ${sql.join(where, sql` and `)}${groupSql}`;
  const raw = await db.all<ReportRow>(statement);

  const completeAt = (day: { endMs: number }) => now.getTime() >= day.endMs + (query.dateBasis === 'install' ? fillingHorizonMs : 0);
  const dayEnd = new Map(query.days.map((d) => [d.day, d]));
  const columns = [...groupDims.map((g) => g.name), ...Object.keys(query.kind === 'events' ? EVENT_SQL : CAMPAIGN_SQL), ...(byCampaign ? ['campaign_name'] : []), ...(byDate ? ['complete'] : [])];
  const rows = raw.map((r) => {
    const row: ReportRow = {};
    for (const g of groupDims) row[g.name] = g.type === 'bool' && r[g.name] !== null ? r[g.name] === 1 : r[g.name]!;
    for (const c of columns.slice(groupDims.length)) if (c !== 'complete') row[c] = r[c] ?? null;
    if (byDate) row.complete = completeAt(dayEnd.get(r.date as string)!);
    return row;
  });
  return { columns, rows, complete: completeAt(last) };
}

/** RFC 4180: CRLF line ends, fields quoted when they hold a comma, quote or line break. */
export function toCsv(columns: string[], rows: ReportRow[]): string {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.map(cell).join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\r\n') + '\r\n';
}
