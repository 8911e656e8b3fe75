// Every report metric, in its public order, and how it comes from the summed rollup measures.
// What a postback adds to each measure is decided once, when it is counted (rollup/contribution.ts);
// a report only adds measures up and derives the few ratios and amounts here. Adding a metric: a
// measure column in db/schema.ts, its count in contribution.ts, one line below, one line in docs/.
import { MMP_ROLLUP_MEASURES, type MmpRollupMeasures, mmpRollups, ROLLUP_MEASURES, type RollupMeasures, rollups } from '../db/schema.js';

export type ReportValue = string | number | boolean | null;

/** A group's currency: the one its verified postbacks were decoded in, or none. */
export interface GroupCurrency {
  /** False when the group mixes currencies: then no revenue sum means anything. */
  single: boolean;
  code: string | null;
}

export interface Metric {
  name: string;
  /** A plain sum: its position among the summed measures (read directly, no call per row). */
  sum?: number;
  /** Otherwise derived: `sums` are the group's measures in the order of `MEASURE_COLUMNS`. */
  value?(sums: readonly number[], currency: GroupCurrency): ReportValue;
}

/** The measures every campaign report sums, as rollup columns, in schema order. */
export const MEASURE_COLUMNS = ROLLUP_MEASURES.map((m) => rollups[m].name);
const at = (measure: keyof RollupMeasures) => ROLLUP_MEASURES.indexOf(measure);

/** A measure as it is summed, under its column's name. */
const sum = (measure: keyof RollupMeasures): Metric => ({ name: rollups[measure].name, sum: at(measure) });
const ratio = (name: string, part: keyof RollupMeasures, whole: keyof RollupMeasures): Metric => {
  const [p, w] = [at(part), at(whole)];
  return { name, value: (s) => (s[w] ? Math.round((s[p]! / s[w]!) * 1e6) / 1e6 : null) };
};
// Revenue adds up only within one currency; kept in cents, so a double holds it exactly.
const amount = (name: string, cents: keyof RollupMeasures): Metric => {
  const i = at(cents);
  return { name, value: (s, c) => (c.single ? s[i]! / 100 : null) };
};

export const CAMPAIGN_METRICS: readonly Metric[] = [
  sum('postbacks'),
  sum('verified'),
  sum('installs'),
  sum('redownloads'),
  sum('reengagements'),
  sum('nonWinning'),
  sum('window0'),
  sum('window1'),
  sum('window2'),
  sum('nullValues'),
  ratio('null_rate', 'nullValues', 'verified'),
  sum('coarseLow'),
  sum('coarseMedium'),
  sum('coarseHigh'),
  amount('revenue_min', 'revenueMinCents'),
  amount('revenue_max', 'revenueMaxCents'),
  { name: 'currency', value: (_, c) => (c.single ? c.code : 'MIXED') },
  sum('conflicts'),
  sum('invalid'),
  sum('unverifiable'),
];

/** Events: `postbacks` (real postbacks with the event) and the decoded count range. */
export const EVENT_COLUMNS = ['postbacks', 'count_min', 'count_max'] as const;
export const EVENT_METRICS: readonly Metric[] = EVENT_COLUMNS.map((name, i) => ({ name, sum: i }));

/** The measures the MMP report sums, as `mmp_rollups` columns, in schema order. */
export const MMP_MEASURE_COLUMNS = MMP_ROLLUP_MEASURES.map((m) => mmpRollups[m].name);
const mmpAt = (measure: keyof MmpRollupMeasures) => MMP_ROLLUP_MEASURES.indexOf(measure);
const mmpSum = (measure: keyof MmpRollupMeasures): Metric => ({ name: mmpRollups[measure].name, sum: mmpAt(measure) });

export const MMP_METRICS: readonly Metric[] = [
  mmpSum('clicks'),
  mmpSum('impressions'),
  mmpSum('installs'),
  mmpSum('reattributions'),
  mmpSum('events'),
  { name: 'revenue', value: (s, c) => (c.single ? s[mmpAt('revenueCents')]! / 100 : null) },
  { name: 'currency', value: (_, c) => (c.single ? c.code : 'MIXED') },
  mmpSum('unattributed'),
  mmpSum('fraudRejected'),
  mmpSum('rejected'),
  mmpSum('ctitUnder10s'),
  mmpSum('ctit10s1m'),
  mmpSum('ctit1m1h'),
  mmpSum('ctit1h24h'),
  mmpSum('ctitOver24h'),
  { name: 'conversion_rate', value: (s) => (s[mmpAt('clicks')] ? Math.round((s[mmpAt('installs')]! / s[mmpAt('clicks')]!) * 1e6) / 1e6 : null) },
];

export const metricNames = (metrics: readonly Metric[]) => metrics.map((m) => m.name);
