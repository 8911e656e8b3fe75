// Copy reconciliation for advertisers: Apple sends the developer copy of a winning postback to the
// app's own endpoint, and each network may relay the copy it got. Per group: how many verified
// transactions came directly, relayed, or both; relayed copies whose values differ from the direct
// one; how long relays took. docs/discrepancies.md, "Copy reconciliation".
import type { z } from '@hono/zod-openapi';
import { copyGroups } from '../db/copies.js';
import type { Db } from '../db/db.js';
import { thresholdParam } from './discrepancies.js';
import type { ReportValue } from './metrics.js';
import { buildReportQuery, type ReportQuery, reportParams } from './query.js';
import type { WholeReport } from './render.js';
import { MAX_REPORT_ROWS, ReportTooLargeError } from './run.js';

const BUCKET_MS = 15 * 60 * 1000;

export function copyParams() {
  return reportParams('copies')
    .omit({ date_basis: true })
    .extend({
      threshold_pct: thresholdParam('direct_only or relayed_only beyond this share of transactions is over_threshold'),
    })
    .strict();
}
export type CopyParams = z.output<ReturnType<typeof copyParams>>;

export const COPY_METRICS = [
  'transactions',
  'direct',
  'relayed',
  'both',
  'direct_only',
  'relayed_only',
  'value_mismatch',
  'relay_delay_p50_s',
  'relay_delay_p95_s',
  'status',
] as const;

export interface CopyQuery {
  base: ReportQuery<'copies'>;
  thresholdPct: number;
}

export const buildCopyQuery = (params: CopyParams, today: Date, defaultThresholdPct: number): CopyQuery => ({
  base: buildReportQuery({ ...params, date_basis: undefined }, 'copies', today),
  thresholdPct: params.threshold_pct ?? defaultThresholdPct,
});

export async function runCopies(dbs: readonly Db[], q: CopyQuery, now: Date): Promise<WholeReport> {
  const { base } = q;
  const names = base.groupBy.map((g) => g.name);
  const raw = await copyGroups(dbs, {
    fromMs: base.days[0]!.lo * BUCKET_MS,
    toMs: base.days.at(-1)!.hi * BUCKET_MS,
    offsets: base.offsets,
    groupBy: names.map((n) => (n === 'date' ? 'day' : n)),
    filters: base.filters.map((f) => ({ column: f.dim.name, values: f.values })),
    limit: MAX_REPORT_ROWS + 1,
  });
  if (raw.length > MAX_REPORT_ROWS) throw new ReportTooLargeError();
  const dayNames = new Map(base.days.map((d) => [Math.round(Date.parse(`${d.day}T00:00:00Z`) / 86_400_000), d.day]));
  const n = names.length;
  const rows = raw
    // A query without group_by answers one row even over nothing: kept, as every report's totals.
    .filter((row) => n === 0 || (row[n] as number) > 0)
    .map((row) => {
      const keys = row.slice(0, n).map((v, i) => (names[i] === 'date' ? (dayNames.get(v as number) ?? null) : v));
      const [transactions, direct, relayed, both, directOnly, relayedOnly, mismatch, p50, p95] = row.slice(n) as number[];
      const limit = ((transactions ?? 0) * q.thresholdPct) / 100;
      const status = mismatch! > 0 || directOnly! > limit || relayedOnly! > limit ? 'over_threshold' : 'ok';
      const seconds = (v: number | undefined) => (v === null || v === undefined ? null : Math.round(v * 1000) / 1000);
      return [...keys, transactions, direct, relayed, both, directOnly, relayedOnly, mismatch, seconds(p50), seconds(p95), status] as ReportValue[];
    });
  const columns = [...names, ...COPY_METRICS];
  return {
    columns,
    rows,
    meta: { from: base.from, to: base.to, tz: base.tz, group_by: names, threshold_pct: q.thresholdPct, generated_at: now.toISOString(), columns },
  };
}
