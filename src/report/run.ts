// Running a report: the analyst's query as one rollup query (db/rollup-query.ts), then each group's
// dimensions and metrics in their public form. Never a scan of raw postbacks.
import type { Db } from '../db/db.js';
import { queryRollupsOn, type RollupTable } from '../db/rollup-query.js';
import { CAMPAIGN_METRICS, EVENT_COLUMNS, EVENT_METRICS, type GroupCurrency, MEASURE_COLUMNS, type Metric, MMP_MEASURE_COLUMNS, MMP_METRICS, type ReportValue } from './metrics.js';
import type { ReportQuery } from './query.js';

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

const CONFLICTS = MEASURE_COLUMNS.indexOf('conflicts');

/** Each report's table, the measures it sums, and the metrics it shows. */
const KINDS = {
  campaigns: { table: 'rollups', sums: MEASURE_COLUMNS, metrics: CAMPAIGN_METRICS, currencies: true },
  events: { table: 'rollup_events', sums: EVENT_COLUMNS, metrics: EVENT_METRICS, currencies: false },
  mmp: { table: 'mmp_rollups', sums: MMP_MEASURE_COLUMNS, metrics: MMP_METRICS, currencies: true },
} as const satisfies Record<ReportQuery['kind'], { table: RollupTable; sums: readonly string[]; metrics: readonly Metric[]; currencies: boolean }>;

/**
 * How long after a day ends its figures may still move: installs are estimated back in time;
 * MMPs retry a postback for up to a few hours; a click's installs come within its lookback (30
 * days at most).
 */
function fillingMs(query: ReportQuery, installHorizonMs: number): number {
  if (query.dateBasis === 'install') return installHorizonMs;
  if (query.kind !== 'mmp' || query.dateBasis === 'arrival') return 0;
  return query.dateBasis === 'click' ? 30 * 86_400_000 : 6 * 3_600_000;
}

/** `dbs`: the shards holding the report's apps (Node: its one database). */
export async function runReport(dbs: readonly Db[], query: ReportQuery, now: Date, fillingHorizonMs: number): Promise<ReportResult> {
  const campaigns = query.kind === 'campaigns';
  const { table, sums, metrics, currencies } = KINDS[query.kind];
  const groupDims = query.groupBy;
  const byDate = groupDims.some((g) => g.type === 'date');
  // The name in force at install time was resolved per postback; a group shows it when it is one
  // (MMP rows name the campaign only).
  const byCampaign = query.kind !== 'mmp' && groupDims.some((g) => g.name === 'campaign');
  const raw = await queryRollupsOn(dbs, {
    table,
    basis: query.dateBasis,
    lo: query.days[0]!.lo,
    hi: query.days.at(-1)!.hi,
    offsets: query.offsets,
    groupBy: groupDims.map((g) => (g.type === 'date' ? 'day' : g.column!)),
    filters: query.filters.map(({ dim, values }) => ({ column: dim.column!, values })),
    sums,
    currencies,
    campaignNames: byCampaign,
    limit: MAX_REPORT_ROWS + 1,
  });
  if (raw.length > MAX_REPORT_ROWS) throw new ReportTooLargeError();

  const filling = fillingMs(query, fillingHorizonMs);
  const completeAt = (day: { endMs: number }) => now.getTime() >= day.endMs + filling;
  const dayByNumber = new Map(query.days.map((d) => [Math.round(Date.parse(`${d.day}T00:00:00Z`) / 86_400_000), { name: d.day, complete: completeAt(d) }]));
  const columns = [...groupDims.map((g) => g.name), ...metrics.map((m) => m.name), ...(byCampaign ? ['campaign_name'] : []), ...(byDate ? ['complete'] : [])];
  const n = groupDims.length;
  const sumsEnd = n + sums.length;
  const currencyAt = sumsEnd;
  const namesAt = currencies ? sumsEnd + 2 : sumsEnd;
  const rows: ReportValue[][] = [];
  // One object, refilled per row: this loop runs for up to 100,000 groups.
  const currency: GroupCurrency = { single: true, code: null };
  const derived = metrics.filter((m) => m.sum === undefined).length > 0;
  for (const values of raw) {
    // Rollup rows can net to zero after a re-derive took a contribution back out: no real group.
    // (MMP rows are only ever added to.)
    if (n && query.kind !== 'mmp' && values[n] === 0 && !(campaigns && values[n + CONFLICTS])) continue;
    const totals = derived ? (values.slice(n, sumsEnd) as number[]) : [];
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
    currency.single = values[currencyAt] === values[currencyAt + 1];
    currency.code = values[currencyAt] as string | null;
    for (const metric of metrics) out.push(metric.sum !== undefined ? values[n + metric.sum]! : metric.value!(totals, currency));
    if (byCampaign) out.push(values[namesAt] === values[namesAt + 1] && values[namesAt] !== '' ? values[namesAt]! : null);
    if (byDate) out.push(day?.complete ?? false);
    rows.push(out);
  }
  return { columns, rows, complete: completeAt(query.days.at(-1)!) };
}
