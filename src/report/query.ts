// Report parameters: parsing and checking what an analyst asked for, before any SQL.
import { TZDate, tzOffset, tzScan } from '@date-fns/tz';
import { addDays, differenceInCalendarDays, format, isValid, parse } from 'date-fns';
import { BUCKET_MS } from '../rollup/contribution.js';
import { dimensionByName, type Dimension } from './dimensions.js';

export const MAX_RANGE_DAYS = 400;
const CONTROL = new Set(['from', 'to', 'tz', 'date_basis', 'group_by', 'format']);

export interface Day {
  day: string;
  /** First bucket of the day in its zone, and the first bucket of the next day. */
  lo: number;
  hi: number;
  endMs: number;
}

export interface ReportQuery {
  kind: 'campaigns' | 'events';
  from: string;
  to: string;
  tz: string;
  dateBasis: 'arrival' | 'install';
  groupBy: Dimension[];
  /** Each dimension filtered on, with its accepted values (null for absent). */
  filters: Array<{ dim: Dimension; values: Array<string | number | null> }>;
  format: 'json' | 'csv';
  days: Day[];
  /** The zone's UTC offset in buckets over the range: from each `bucket` on, until the next. */
  offsets: Array<{ bucket: number; offset: number }>;
}

export class ReportParamError extends Error {
  constructor(readonly param: string, message: string) {
    super(message);
  }
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function parseDay(param: string, value: string): Date {
  const date = parse(value, 'yyyy-MM-dd', new Date(0));
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || !isValid(date)) throw new ReportParamError(param, `${param} must be a date as YYYY-MM-DD, got ${JSON.stringify(value)}`);
  return date;
}

/** The zone's offset (in 15-minute buckets) at the start of the range and after each change in it. */
export function offsetsInZone(days: Day[], tz: string): ReportQuery['offsets'] {
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

function filterValue(dim: Dimension, raw: string): string | number | null {
  if (raw === 'null') return null;
  if (dim.values && !dim.values.includes(raw)) throw new ReportParamError(dim.name, `${dim.name} must be one of ${dim.values.join(', ')} (or null), got ${JSON.stringify(raw)}`);
  if (dim.type === 'int') {
    if (!/^-?\d{1,15}$/.test(raw)) throw new ReportParamError(dim.name, `${dim.name} must be an integer, got ${JSON.stringify(raw)}`);
    return Number(raw);
  }
  if (dim.type === 'bool') {
    if (raw !== 'true' && raw !== 'false') throw new ReportParamError(dim.name, `${dim.name} must be true or false, got ${JSON.stringify(raw)}`);
    return raw === 'true' ? 1 : 0;
  }
  return raw;
}

export function parseReportQuery(params: URLSearchParams, kind: ReportQuery['kind'], today: Date): ReportQuery {
  const events = kind === 'events';
  for (const name of new Set(params.keys())) {
    if (params.getAll(name).length > 1) throw new ReportParamError(name, `${name} is given more than once; list values comma-separated`);
    if (!CONTROL.has(name) && (!dimensionByName(name, events) || name === 'date')) {
      throw new ReportParamError(name, `unknown parameter ${JSON.stringify(name)}${name === 'date' ? '; use from and to' : ''}`);
    }
  }
  const tz = params.get('tz') ?? 'UTC';
  if (!isTimeZone(tz)) throw new ReportParamError('tz', `tz must be an IANA time zone such as Europe/Paris, got ${JSON.stringify(tz)}`);
  const todayInZone = format(new TZDate(today.getTime(), tz), 'yyyy-MM-dd');
  const to = parseDay('to', params.get('to') ?? todayInZone);
  const from = parseDay('from', params.get('from') ?? format(addDays(to, -6), 'yyyy-MM-dd'));
  if (to < from) throw new ReportParamError('to', 'to must not be before from');
  const span = differenceInCalendarDays(to, from) + 1;
  if (span > MAX_RANGE_DAYS) throw new ReportParamError('from', `a report covers at most ${MAX_RANGE_DAYS} days, this asks for ${span}`);

  const dateBasis = params.get('date_basis') ?? 'arrival';
  if (dateBasis !== 'arrival' && dateBasis !== 'install') throw new ReportParamError('date_basis', 'date_basis must be arrival or install');
  const fmt = params.get('format') ?? 'json';
  if (fmt !== 'json' && fmt !== 'csv') throw new ReportParamError('format', 'format must be json or csv');

  const groupBy: Dimension[] = [];
  for (const name of (params.get('group_by') ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const dim = dimensionByName(name, events);
    if (!dim) throw new ReportParamError('group_by', `unknown dimension ${JSON.stringify(name)} in group_by`);
    if (groupBy.includes(dim)) throw new ReportParamError('group_by', `dimension ${name} appears twice in group_by`);
    groupBy.push(dim);
  }

  const filters: ReportQuery['filters'] = [];
  for (const [name, raw] of params) {
    if (CONTROL.has(name)) continue;
    const dim = dimensionByName(name, events)!;
    const values = raw.split(',').map((v) => v.trim()).filter((v) => v !== '');
    if (values.length === 0) throw new ReportParamError(name, `${name} needs at least one value`);
    filters.push({ dim, values: values.map((v) => filterValue(dim, v)) });
  }
  // Development postbacks are shown only to those who ask for them.
  if (!params.has('environment')) filters.push({ dim: dimensionByName('environment', false)!, values: ['production'] });

  const days = daysInZone(from, to, tz);
  return {
    kind,
    offsets: offsetsInZone(days, tz),
    from: format(from, 'yyyy-MM-dd'),
    to: format(to, 'yyyy-MM-dd'),
    tz,
    dateBasis,
    groupBy,
    filters,
    format: fmt,
    days,
  };
}
