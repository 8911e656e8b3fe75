// Report parameters: one zod schema per report says what each query parameter may be (it
// validates the request, types the handler and documents the route), then `buildReportQuery`
// checks what depends on several of them and the clock, before any SQL.
import { TZDate, tzOffset, tzScan } from '@date-fns/tz';
import { z } from '@hono/zod-openapi';
import { addDays, differenceInCalendarDays, format, isValid, parse } from 'date-fns';
import { BUCKET_MS } from '../rollup/contribution.js';
import { type Dimension, dimensionByName, dimensionsOf, type ParamKind, type ReportKind } from './dimensions.js';

const MAX_RANGE_DAYS = 400;

export interface Day {
  day: string;
  /** First bucket of the day in its zone, and the first bucket of the next day. */
  lo: number;
  hi: number;
  endMs: number;
}

/** Which time dates a row: arrival and install (Apple's postbacks); event, click and arrival (MMP). */
type DateBasis = 'arrival' | 'install' | 'event' | 'click';

// The discrepancy report's `date_basis` is SKAN's; it names it `skan_date_basis`, beside `mmp_date_basis`.
const DATE_BASES = {
  campaigns: ['arrival', 'install'],
  events: ['arrival', 'install'],
  mmp: ['event', 'click', 'arrival'],
  discrepancies: ['install', 'arrival'],
  // A transaction is dated by its first copy's arrival.
  copies: ['arrival'],
} as const satisfies Record<ParamKind, readonly DateBasis[]>;

export interface ReportQuery<K extends ParamKind = ReportKind> {
  kind: K;
  from: string;
  to: string;
  tz: string;
  dateBasis: DateBasis;
  groupBy: Dimension[];
  /** Each dimension filtered on, with its accepted values (null for absent). */
  filters: Array<{ dim: Dimension; values: Array<string | number | null> }>;
  format: 'json' | 'csv';
  days: Day[];
  /** The zone's UTC offset in buckets over the range: from each `bucket` on, until the next. */
  offsets: Array<{ bucket: number; offset: number }>;
}

export class ReportParamError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

// Intl is slow to build and an upload repeats one or two zones on each of its rows; the cache is
// bounded, since the names come from clients.
const zoneChecks = new Map<string, boolean>();

export function isTimeZone(tz: string): boolean {
  let known = zoneChecks.get(tz);
  if (known === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      known = true;
    } catch {
      known = false;
    }
    if (zoneChecks.size >= 1000) zoneChecks.clear();
    zoneChecks.set(tz, known);
  }
  return known;
}

const dayOf = (value: string) => parse(value, 'yyyy-MM-dd', new Date(0));
export const isDay = (value: string) => /^\d{4}-\d{2}-\d{2}$/.test(value) && isValid(dayOf(value));

/** The zone's offset (in 15-minute buckets) at the start of the range and after each change in it. */
function offsetsInZone(days: Day[], tz: string): ReportQuery['offsets'] {
  const start = new Date(days[0]!.lo * BUCKET_MS);
  const end = new Date(days.at(-1)!.hi * BUCKET_MS);
  const toBuckets = (minutes: number) => Math.round((minutes * 60_000) / BUCKET_MS);
  return [
    { bucket: days[0]!.lo, offset: toBuckets(tzOffset(tz, start)) },
    ...tzScan(tz, { start, end }).map((change) => ({ bucket: Math.floor(change.date.getTime() / BUCKET_MS), offset: toBuckets(change.offset) })),
  ];
}

/** The days of [from, to] in `tz`, each as the half-open range of 15-minute UTC buckets it covers. */
export function daysInZone(from: Date, to: Date, tz: string): Day[] {
  const startOf = (day: Date) => new TZDate(day.getFullYear(), day.getMonth(), day.getDate(), tz).getTime();
  const days: Day[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) {
    const start = startOf(day);
    const end = startOf(addDays(day, 1));
    days.push({ day: format(day, 'yyyy-MM-dd'), lo: Math.floor(start / BUCKET_MS), hi: Math.floor(end / BUCKET_MS), endMs: end });
  }
  return days;
}

type FilterValue = string | number | null;

/** One filter value, as typed in a query (`null` for absent), or the reason it cannot be one. */
function filterValue(dim: Dimension, raw: string): FilterValue | { error: string } {
  if (raw === 'null') return null;
  if (dim.values && !dim.values.includes(raw)) return { error: `${dim.name} must be one of ${dim.values.join(', ')} (or null), got ${JSON.stringify(raw)}` };
  if (dim.type === 'int') return /^-?\d{1,15}$/.test(raw) ? Number(raw) : { error: `${dim.name} must be an integer, got ${JSON.stringify(raw)}` };
  if (dim.type === 'bool') return raw === 'true' || raw === 'false' ? Number(raw === 'true') : { error: `${dim.name} must be true or false, got ${JSON.stringify(raw)}` };
  return raw;
}

/** A query parameter given once: a repeated one arrives as an array, which says why it is refused. */
const single = (name: string) => z.string({ error: (issue) => (Array.isArray(issue.input) ? `${name} is given more than once; list values comma-separated` : undefined) });

const list = (raw: string) =>
  raw
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');

const filterParam = (dim: Dimension) =>
  single(dim.name)
    .transform((raw, ctx) => {
      const values: FilterValue[] = [];
      for (const item of list(raw)) {
        const value = filterValue(dim, item);
        if (value !== null && typeof value === 'object') ctx.addIssue({ code: 'custom', message: value.error });
        else values.push(value);
      }
      if (values.length === 0 && ctx.issues.length === 0) ctx.addIssue({ code: 'custom', message: `${dim.name} needs at least one value` });
      return values;
    })
    .optional()
    .openapi({ description: `filter: comma-separated values${dim.values ? ` (${dim.values.join(', ')})` : ''}; \`null\` for absent` });

const dayParam = (name: 'from' | 'to', description: string) =>
  single(name)
    .refine(isDay, { error: (issue) => `${name} must be a date as YYYY-MM-DD, got ${JSON.stringify(issue.input)}` })
    .optional()
    .openapi({ description });

/** The query parameters of a report of `kind`: every one it takes, nothing else. */
export function reportParams(kind: ParamKind) {
  const dimensions = dimensionsOf(kind);
  const bases = DATE_BASES[kind];
  return z
    .object({
      from: dayParam('from', 'first day, YYYY-MM-DD in tz (default: 6 days before to)'),
      to: dayParam('to', 'last day, YYYY-MM-DD in tz, inclusive (default: today)'),
      tz: single('tz')
        .refine(isTimeZone, { error: (issue) => `tz must be an IANA time zone such as Europe/Paris, got ${JSON.stringify(issue.input)}` })
        .optional()
        .openapi({ description: 'IANA time zone (default UTC)' }),
      date_basis: z
        .enum(bases, { error: `date_basis must be ${bases.slice(0, -1).join(', ')} or ${bases.at(-1)}` })
        .optional()
        .openapi({ description: `${bases.join(', ')} (default ${bases[0]})` }),
      group_by: single('group_by')
        .transform((raw, ctx) => {
          const dims: Dimension[] = [];
          for (const name of list(raw)) {
            const dim = dimensionByName(name, kind);
            if (!dim) ctx.addIssue({ code: 'custom', message: `unknown dimension ${JSON.stringify(name)} in group_by` });
            else if (dims.includes(dim)) ctx.addIssue({ code: 'custom', message: `dimension ${name} appears twice in group_by` });
            else dims.push(dim);
          }
          return dims;
        })
        .optional()
        .openapi({ description: `comma-separated: ${dimensions.map((d) => d.name).join(', ')}` }),
      format: z.enum(['json', 'csv'], { error: 'format must be json or csv' }).optional(),
      ...Object.fromEntries(dimensions.filter((d) => d.type !== 'date').map((d) => [d.name, filterParam(d)])),
    })
    .strict();
}
export type ReportParams = z.output<ReturnType<typeof reportParams>>;

/**
 * What depends on several parameters and on today: the default range (the last 7 days in the
 * zone), `to` not before `from`, at most 400 days; production only unless asked otherwise.
 */
export function buildReportQuery<K extends ParamKind>(params: ReportParams, kind: K, today: Date): ReportQuery<K> {
  const tz = params.tz ?? 'UTC';
  const to = dayOf(params.to ?? format(new TZDate(today.getTime(), tz), 'yyyy-MM-dd'));
  const from = dayOf(params.from ?? format(addDays(to, -6), 'yyyy-MM-dd'));
  if (to < from) throw new ReportParamError('to', 'to must not be before from');
  const span = differenceInCalendarDays(to, from) + 1;
  if (span > MAX_RANGE_DAYS) throw new ReportParamError('from', `a report covers at most ${MAX_RANGE_DAYS} days, this asks for ${span}`);

  const filters: ReportQuery<K>['filters'] = [];
  const values = params as Record<string, unknown>;
  for (const dim of dimensionsOf(kind)) {
    const asked = values[dim.name];
    if (dim.type !== 'date' && asked !== undefined) filters.push({ dim, values: asked as FilterValue[] });
  }
  // Development postbacks are shown only to those who ask for them.
  if ((kind === 'campaigns' || kind === 'events') && values.environment === undefined) filters.push({ dim: dimensionByName('environment', kind)!, values: ['production'] });

  const days = daysInZone(from, to, tz);
  return {
    kind,
    offsets: offsetsInZone(days, tz),
    from: format(from, 'yyyy-MM-dd'),
    to: format(to, 'yyyy-MM-dd'),
    tz,
    dateBasis: (params.date_basis as DateBasis | undefined) ?? DATE_BASES[kind][0],
    groupBy: params.group_by ?? [],
    filters,
    format: params.format ?? 'json',
    days,
  };
}

/** The first problem of a failed parse, as the error that names its parameter. */
export function paramError(error: z.ZodError): ReportParamError {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const name = issue.keys[0]!;
    return new ReportParamError(name, `unknown parameter ${JSON.stringify(name)}${name === 'date' ? '; use from and to' : ''}`);
  }
  return new ReportParamError(String(issue.path[0] ?? 'query'), issue.message);
}

/** Parameters as a URL carries them (the CLI, tests): the same schema, then the same checks. */
export function parseReportQuery(search: URLSearchParams, kind: ReportKind, today: Date): ReportQuery {
  const raw: Record<string, string | string[]> = {};
  for (const name of new Set(search.keys())) {
    const all = search.getAll(name);
    raw[name] = all.length === 1 ? all[0]! : all;
  }
  const parsed = reportParams(kind).safeParse(raw);
  if (!parsed.success) throw paramError(parsed.error);
  return buildReportQuery(parsed.data, kind, today);
}
