// A report as its answer: JSON `{"rows", "meta"}` or CSV. A report can be run in parts (runs of
// days, side by side on Node's reader threads), each serialized where it ran; the body is the parts
// joined in order.
import type { Db } from '../db/db.js';
import { csvLines } from './csv.js';
import type { ReportValue } from './metrics.js';
import type { ReportQuery } from './query.js';
import { MAX_REPORT_ROWS, ReportTooLargeError, runReport } from './run.js';

/** A report (or one run of its days), serialized: JSON objects joined by commas, or CSV lines. */
export interface ReportPart {
  columns: string[];
  rows: string;
  count: number;
  complete: boolean;
}

/** The `meta` object of a JSON report. */
function reportMeta(query: ReportQuery, now: Date, result: { complete: boolean; columns: string[] }) {
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
  // stringifying them all.
  const object: Record<string, ReportValue> = Object.fromEntries(columns.map((c) => [c, null]));
  const parts = new Array<string>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    for (let i = 0; i < columns.length; i++) object[columns[i]!] = row[i]!;
    parts[r] = JSON.stringify(object);
  }
  return parts.join(',');
}

export async function renderReportPart(dbs: readonly Db[], query: ReportQuery, now: Date, fillingHorizonMs: number): Promise<ReportPart> {
  const result = await runReport(dbs, query, now, fillingHorizonMs);
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

/** A report computed in one piece (discrepancies, copies), in the shapes every report has. */
export interface WholeReport {
  columns: string[];
  rows: ReportValue[][];
  meta: Record<string, unknown>;
}

export function wholeReportBody(result: WholeReport, format: 'json' | 'csv'): string {
  if (format === 'csv') return csvLines([result.columns, ...result.rows]);
  return `{"rows":[${jsonObjects(result.columns, result.rows)}],"meta":${JSON.stringify(result.meta)}}`;
}
