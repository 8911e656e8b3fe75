// `skanpost report`: a report (campaigns, events or MMP) from the command line, as a table, CSV or JSON.

import type { InstallModel } from '../../conversion/install-date.js';
import { fillingHorizonMs } from '../../conversion/install-date.js';
import type { Db } from '../../db/db.js';
import { dimensionsOf, type ReportKind } from '../../report/dimensions.js';
import type { ReportValue } from '../../report/metrics.js';
import { parseReportQuery } from '../../report/query.js';
import { renderReportPart, reportBody } from '../../report/render.js';
import { runReport } from '../../report/run.js';

/** Options as typed (`--group-by`, `--app-id`) to the API's parameter names (`group_by`, `app_id`). */
function reportParams(options: Record<string, string | undefined>): { params: URLSearchParams; format: 'table' | 'csv' | 'json'; kind: ReportKind } {
  const params = new URLSearchParams();
  let format: 'table' | 'csv' | 'json' = 'table';
  let kind: ReportKind = 'campaigns';
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const param = name.replace(/-/g, '_');
    if (param === 'kind') {
      if (value !== 'campaigns' && value !== 'events' && value !== 'mmp') throw new RangeError('--kind must be campaigns, events or mmp');
      kind = value;
    } else if (param === 'format') {
      if (value !== 'table' && value !== 'csv' && value !== 'json') throw new RangeError('--format must be table, csv or json');
      format = value;
    } else {
      params.set(param, value);
    }
  }
  return { params, format, kind };
}

export const REPORT_OPTIONS = Object.fromEntries(
  // Every kind's filters: a filter the chosen kind does not have is refused by its parameters, by name.
  [
    ...new Set([
      'kind',
      'from',
      'to',
      'tz',
      'date-basis',
      'group-by',
      'format',
      ...(['campaigns', 'events', 'mmp'] as const).flatMap((k) =>
        dimensionsOf(k)
          .filter((d) => d.type !== 'date')
          .map((d) => d.name.replace(/_/g, '-')),
      ),
    ]),
  ].map((name) => [name, { type: 'string' as const }]),
);

function table(columns: string[], rows: ReportValue[][]): string {
  const cells = [columns, ...rows.map((r) => r.map((v) => (v === null ? '' : String(v))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function reportCommand(db: Db, options: Record<string, string | undefined>, now: Date, model: InstallModel): Promise<string> {
  const { params, format, kind } = reportParams(options);
  const query = parseReportQuery(params, kind, now);
  if (format !== 'table') {
    // The API's body, byte for byte (CSV without its last line end: the CLI prints a newline).
    const asked = { ...query, format };
    return reportBody(asked, now, [await renderReportPart([db], asked, now, fillingHorizonMs(model))]).trimEnd();
  }
  const result = await runReport([db], query, now, fillingHorizonMs(model));
  return table(result.columns, result.rows);
}
