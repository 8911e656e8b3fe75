// The fields of an MMP postback under skanpost's names, and how a value as an MMP writes it becomes
// one: timestamps in four forms, booleans as 1/0/true/false, App Store ids with or without `id`,
// revenue in units or cents. Pure: a request's parameters in, fields or named problems out.

export const MMP_FIELDS = [
  'click_id',
  'event_name',
  'event_id',
  'event_value',
  'revenue',
  'currency',
  'event_time',
  'install_time',
  'click_time',
  'touch_type',
  'is_reattribution',
  'attributed',
  'rejected',
  'reject_reason',
  'app_id',
  'country_code',
  'os',
] as const;
export type MmpField = (typeof MMP_FIELDS)[number];

export const TIMESTAMP_FORMATS = ['unix_s', 'unix_ms', 'iso8601', 'datetime'] as const;
export type TimestampFormat = (typeof TIMESTAMP_FORMATS)[number];

/** What a postback says, read and checked; absent values are null. */
export interface MmpFields {
  clickId: string | null;
  /** `install` for an install, whatever the MMP calls it. */
  eventName: string;
  eventId: string | null;
  eventValue: string | null;
  /** In currency units. */
  revenue: number | null;
  currency: string | null;
  eventTime: Date | null;
  installTime: Date | null;
  clickTime: Date | null;
  touchType: 'click' | 'impression' | null;
  isReattribution: boolean;
  /** False for a "send all" postback the network did not win. */
  attributed: boolean;
  rejected: boolean;
  rejectReason: string | null;
  appId: number | null;
  countryCode: string | null;
  os: string | null;
}

export interface FieldProblem {
  field: string;
  reason: string;
}

/** Names MMPs give an install (AppsFlyer `install`, Kochava `_install`, Branch `INSTALL`…). */
const INSTALL_NAMES = new Set(['install', '_install', '__install__', 'installs']);
/** Revenue beyond this per postback is refused: a report's sums stay exact to the cent. */
const MAX_REVENUE = 1e13;
const MAX_EVENT_VALUE = 2048;
const MAX_TEXT = 200;

/** A timestamp in `format`, or detected from the value: 10 digits seconds, 13 milliseconds, else the two text forms. */
export function parseTimestamp(raw: string, format: TimestampFormat | null): Date | undefined {
  const value = raw.trim();
  const kind = format ?? (/^\d{10}$/.test(value) ? 'unix_s' : /^\d{13}$/.test(value) ? 'unix_ms' : value.includes('T') ? 'iso8601' : 'datetime');
  let ms: number;
  if (kind === 'unix_s' || kind === 'unix_ms') {
    if (!/^\d{1,15}$/.test(value)) return undefined;
    ms = Number(value) * (kind === 'unix_s' ? 1000 : 1);
  } else if (kind === 'iso8601') {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) return undefined;
    ms = Date.parse(value);
  } else {
    const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,6})?$/.exec(value);
    if (!m) return undefined;
    ms = Date.parse(`${m[1]}T${m[2]}${m[3] ? m[3].slice(0, 4) : ''}Z`);
  }
  return Number.isFinite(ms) && ms > 0 ? new Date(ms) : undefined;
}

export function parseBoolean(raw: string): boolean | undefined {
  const value = raw.trim().toLowerCase();
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  return undefined;
}

/** An App Store id: digits, or AppsFlyer's `id` and digits. */
export function parseAppId(raw: string): number | undefined {
  const m = /^(?:id)?(\d{1,15})$/i.exec(raw.trim());
  return m ? Number(m[1]) : undefined;
}

/**
 * Reads the fields from a request's parameters (already named with skanpost's names). Values the
 * MMP sent empty (an unfilled macro) count as absent.
 */
export function readFields(
  params: Partial<Record<MmpField, string>>,
  options: { timestampFormat: TimestampFormat | null; revenueUnit: 'units' | 'cents' },
): { fields: MmpFields; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const given = (name: MmpField) => {
    const value = params[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const text = (name: MmpField, max = MAX_TEXT) => {
    const value = given(name);
    if (value !== undefined && value.length > max) {
      problems.push({ field: name, reason: `at most ${max} characters` });
      return null;
    }
    return value ?? null;
  };
  const time = (name: MmpField) => {
    const value = given(name);
    if (value === undefined) return null;
    const at = parseTimestamp(value, options.timestampFormat);
    if (!at)
      problems.push({
        field: name,
        reason: `not a time${options.timestampFormat ? ` as ${options.timestampFormat}` : ' (unix seconds or milliseconds, ISO 8601, or YYYY-MM-DD HH:MM:SS)'}: ${JSON.stringify(value.slice(0, 40))}`,
      });
    return at ?? null;
  };
  const flag = (name: MmpField, fallback: boolean) => {
    const value = given(name);
    if (value === undefined) return fallback;
    const parsed = parseBoolean(value);
    if (parsed === undefined) problems.push({ field: name, reason: `expected 1, 0, true or false, got ${JSON.stringify(value.slice(0, 20))}` });
    return parsed ?? fallback;
  };

  const eventNameRaw = text('event_name');
  if (eventNameRaw === null && !problems.some((p) => p.field === 'event_name'))
    problems.push({ field: 'event_name', reason: 'missing: every postback names its event (install for an install)' });
  const eventName = eventNameRaw && INSTALL_NAMES.has(eventNameRaw.toLowerCase()) ? 'install' : (eventNameRaw ?? '');

  let revenue: number | null = null;
  const revenueRaw = given('revenue');
  if (revenueRaw !== undefined) {
    const amount = /^-?\d{1,16}(\.\d{1,12})?$/.test(revenueRaw) ? Number(revenueRaw) / (options.revenueUnit === 'cents' ? 100 : 1) : Number.NaN;
    if (!Number.isFinite(amount) || Math.abs(amount) > MAX_REVENUE)
      problems.push({ field: 'revenue', reason: `expected a decimal amount of at most 10^13, got ${JSON.stringify(revenueRaw.slice(0, 30))}` });
    else revenue = amount;
  }
  const currency = given('currency')?.toUpperCase() ?? null;
  if (currency !== null && !/^[A-Z]{3}$/.test(currency)) problems.push({ field: 'currency', reason: 'an ISO 4217 code such as USD' });

  const touchRaw = given('touch_type')?.toLowerCase();
  const touchType =
    touchRaw === undefined ? null : touchRaw === 'click' ? 'click' : touchRaw === 'impression' || touchRaw === 'view' || touchRaw === 'view-through' ? 'impression' : undefined;
  if (touchType === undefined) problems.push({ field: 'touch_type', reason: 'click or impression' });

  const appRaw = given('app_id');
  const appId = appRaw === undefined ? null : (parseAppId(appRaw) ?? null);
  if (appRaw !== undefined && appId === null) problems.push({ field: 'app_id', reason: `an App Store id (digits, or id and digits), got ${JSON.stringify(appRaw.slice(0, 40))}` });

  const country = given('country_code')?.toUpperCase() ?? null;
  if (country !== null && !/^[A-Z]{2}$/.test(country)) problems.push({ field: 'country_code', reason: 'two ISO 3166 letters' });

  const fields: MmpFields = {
    clickId: text('click_id', 128),
    eventName,
    eventId: text('event_id'),
    eventValue: text('event_value', MAX_EVENT_VALUE),
    revenue,
    currency,
    eventTime: time('event_time'),
    installTime: time('install_time'),
    clickTime: time('click_time'),
    touchType: touchType ?? null,
    isReattribution: flag('is_reattribution', false),
    attributed: flag('attributed', true),
    rejected: flag('rejected', false),
    rejectReason: text('reject_reason'),
    appId,
    countryCode: country,
    os: text('os', 40),
  };
  if (fields.attributed && !fields.rejected && fields.clickId === null && !problems.some((p) => p.field === 'click_id')) {
    problems.push({ field: 'click_id', reason: 'missing: an attributed postback names the click it attributes' });
  }
  return { fields, problems };
}
