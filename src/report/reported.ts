// Figures reported elsewhere (a network's dashboard, an MMP's, a partner's export), uploaded as a
// JSON array or as CSV with a header row. Every row is checked before anything is stored: one bad
// row refuses the upload, with each problem by line and field.
import { z } from '@hono/zod-openapi';
import type { NewReportedFigure } from '../db/reported.js';
import { CsvSyntaxError, readCsv } from './csv-read.js';
import { isDay, isTimeZone } from './query.js';

/** Rows and bytes one upload may carry. */
export const MAX_REPORTED_ROWS = 50_000;
export const MAX_REPORTED_BYTES = 8 * 1024 * 1024;
/** Problems listed in one answer; the count says how many there were in all. */
const MAX_PROBLEMS = 100;

/** Sources skanpost computes itself: an upload cannot take their names. */
const COMPUTED_SOURCES = ['skan', 'mmp'] as const;
export const REPORTED_METRICS = ['installs', 'events', 'revenue'] as const;

const FIELDS = ['source', 'date', 'tz', 'app_id', 'ad_network_id', 'campaign', 'network_campaign_id', 'metric', 'event', 'value', 'currency'] as const;
const REQUIRED_COLUMNS = ['source', 'date', 'tz', 'app_id', 'ad_network_id', 'metric', 'value'] as const;

export const ReportedFigureInput = z
  .object({
    source: z
      .string()
      .regex(/^[a-z0-9_-]{1,64}$/, 'source must be 1 to 64 of a-z, 0-9, "_" and "-" (network, appsflyer, meta-ads…)')
      .refine((s) => !(COMPUTED_SOURCES as readonly string[]).includes(s), 'skan and mmp are the sources skanpost computes; name an upload otherwise'),
    date: z.string().refine(isDay, 'date must be a day as YYYY-MM-DD'),
    tz: z.string().refine(isTimeZone, 'tz must be an IANA time zone such as UTC or Europe/Paris'),
    app_id: z.number({ error: 'app_id must be a whole number' }).int('app_id must be a whole number').min(0).max(Number.MAX_SAFE_INTEGER),
    ad_network_id: z.string().min(1).max(200),
    campaign: z.string().min(1).max(64).optional().openapi({ description: "the SKAN campaign as skanpost reports it (the source identifier's last two digits)" }),
    network_campaign_id: z.string().min(1).max(200).optional().openapi({ description: "the network's own campaign id (campaign-name mappings join the two)" }),
    metric: z.enum(REPORTED_METRICS),
    event: z.string().min(1).max(200).optional().openapi({ description: 'required with metric events; with revenue, the revenue of that event only' }),
    value: z.number({ error: 'value must be a number' }).min(0, 'value must not be negative').max(1e15),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code such as USD')
      .optional()
      .openapi({ description: 'revenue only, and required there' }),
  })
  .strict()
  .superRefine((row, ctx) => {
    const issue = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
    if ((row.campaign === undefined) === (row.network_campaign_id === undefined)) {
      issue(row.campaign === undefined ? 'campaign' : 'network_campaign_id', 'give exactly one of campaign and network_campaign_id');
    }
    if (row.metric !== 'revenue' && !Number.isInteger(row.value)) issue('value', `${row.metric} are counted in whole numbers`);
    if (row.metric === 'installs' && row.event !== undefined) issue('event', 'installs take no event');
    if (row.metric === 'events' && row.event === undefined) issue('event', 'metric events needs the event it counts');
    if (row.metric === 'revenue' && row.currency === undefined) issue('currency', 'revenue needs its currency');
    if (row.metric !== 'revenue' && row.currency !== undefined) issue('currency', 'only revenue has a currency');
  })
  .openapi('ReportedFigure');
export type ReportedFigure = z.infer<typeof ReportedFigureInput>;

interface UploadProblem {
  /** CSV: the file's line; JSON: the row's position in the array, from 1. */
  line: number;
  field: string;
  reason: string;
}

export type ParsedUpload = { ok: true; rows: ReportedFigure[] } | { ok: false; problems: UploadProblem[]; total: number; detail: string };

const refused = (problems: UploadProblem[], detail: string): ParsedUpload => ({ ok: false, problems: problems.slice(0, MAX_PROBLEMS), total: problems.length, detail });

/** A CSV cell as the JSON value it stands for: empty is absent, numbers are numbers where the field is one. */
function cellValue(field: string, cell: string): unknown {
  const text = cell.trim();
  if (text === '') return undefined;
  if (field === 'app_id' || field === 'value') return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text) ? Number(text) : text;
  return text;
}

function checkRows(items: ReadonlyArray<{ line: number; value: unknown }>): ParsedUpload {
  if (items.length > MAX_REPORTED_ROWS) {
    return refused([{ line: items[MAX_REPORTED_ROWS]!.line, field: '(body)', reason: `at most ${MAX_REPORTED_ROWS.toLocaleString('en')} rows per upload` }], 'too many rows');
  }
  const problems: UploadProblem[] = [];
  const rows: ReportedFigure[] = [];
  for (const { line, value } of items) {
    const parsed = ReportedFigureInput.safeParse(value);
    if (parsed.success) rows.push(parsed.data);
    else {
      for (const issue of parsed.error.issues) {
        const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : String(issue.path[0] ?? '(row)');
        problems.push({ line, field, reason: issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message });
      }
    }
  }
  if (items.length === 0) return refused([{ line: 1, field: '(body)', reason: 'no rows' }], 'the upload has no rows');
  return problems.length ? refused(problems, 'some rows are not valid') : { ok: true, rows };
}

/** An upload's rows, or every problem found (the first 100 listed). `csv` says how to read the text. */
export function parseUpload(text: string, csv: boolean): ParsedUpload {
  if (!csv) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return refused([{ line: 1, field: '(body)', reason: `not JSON: ${(error as Error).message}` }], 'the body is not JSON');
    }
    if (!Array.isArray(parsed)) return refused([{ line: 1, field: '(body)', reason: 'expected a JSON array of rows' }], 'the body is not a JSON array');
    return checkRows(parsed.map((value, i) => ({ line: i + 1, value })));
  }
  let records: ReturnType<typeof readCsv>;
  try {
    records = readCsv(text);
  } catch (error) {
    if (error instanceof CsvSyntaxError) return refused([{ line: error.line, field: '(row)', reason: error.message }], 'the CSV cannot be read');
    throw error;
  }
  const [header, ...data] = records;
  if (!header) return refused([{ line: 1, field: '(body)', reason: 'no header row' }], 'the upload has no rows');
  const names = header.fields.map((f) => f.trim());
  const problems: UploadProblem[] = [];
  names.forEach((name, i) => {
    if (!(FIELDS as readonly string[]).includes(name))
      problems.push({ line: header.line, field: name || `(column ${i + 1})`, reason: `unknown column; columns are ${FIELDS.join(', ')}` });
    else if (names.indexOf(name) !== i) problems.push({ line: header.line, field: name, reason: 'column appears twice' });
  });
  for (const name of REQUIRED_COLUMNS) if (!names.includes(name)) problems.push({ line: header.line, field: name, reason: 'required column missing' });
  if (!names.includes('campaign') && !names.includes('network_campaign_id')) {
    problems.push({ line: header.line, field: 'campaign', reason: 'a campaign or network_campaign_id column is required' });
  }
  if (problems.length) return refused(problems, 'the header row is not valid');
  const items = data.map(({ line, fields }) => {
    if (fields.length !== names.length) return { line, value: { __columns: fields.length } };
    const value: Record<string, unknown> = {};
    names.forEach((name, i) => {
      const cell = cellValue(name, fields[i]!);
      if (cell !== undefined) value[name] = cell;
    });
    return { line, value };
  });
  const wrongWidth = items.filter((item) => '__columns' in (item.value as object));
  if (wrongWidth.length) {
    return refused(
      wrongWidth.map((item) => ({ line: item.line, field: '(row)', reason: `${(item.value as { __columns: number }).__columns} fields where the header has ${names.length}` })),
      'some rows are not valid',
    );
  }
  return checkRows(items);
}

/** An uploaded figure as it is stored: absent text as '' so that a re-upload finds the row it replaces. */
export const storedFigure = (r: ReportedFigure): NewReportedFigure => ({
  source: r.source,
  date: r.date,
  tz: r.tz,
  appId: r.app_id,
  adNetworkId: r.ad_network_id,
  campaign: r.campaign ?? '',
  networkCampaignId: r.network_campaign_id ?? '',
  metric: r.metric,
  event: r.event ?? '',
  value: r.value,
  currency: r.currency ?? '',
});
