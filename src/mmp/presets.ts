// What skanpost knows of each MMP (../shared/MMP.md lists the sources; docs/mmp.md what to check):
// how its timestamps and revenue are written, the macros its postback templates fill, and the
// address ranges it publishes. A preset fixes the parameter names to skanpost's own; `custom`
// takes a mapping instead.
import { MMP_FIELDS, type MmpField, type TimestampFormat } from './fields.js';

export const PRESETS = ['appsflyer', 'adjust', 'singular', 'branch', 'kochava', 'custom'] as const;
export type Preset = (typeof PRESETS)[number];

interface PresetFacts {
  timestampFormat: TimestampFormat | null;
  revenueUnit: 'units' | 'cents';
  /** The MMP's macro for each field of an install postback (the event postback adds its event's). */
  install: Partial<Record<MmpField, string>>;
  event: Partial<Record<MmpField, string>>;
  /** Published egress ranges, where the MMP publishes them. */
  ranges: readonly string[];
}

// AppsFlyer writes its macros in parentheses and returns attribution-link parameters by name.
const appsflyerCommon = {
  click_id: '(clickid)',
  app_id: '(app-id)',
  country_code: '(country-code)',
  install_time: '(install-unix-ts)',
  click_time: '(click-ts)',
  touch_type: '(attributed-touch-type)',
  is_reattribution: '(is-retargeting)',
  attributed: '(is-primary-attribution)',
  rejected: '(is-rejected)',
  reject_reason: '(rejected-reason)',
  os: '(platform)',
} as const;

// Adjust fills callbacks that ride in the tracking link: skanpost fills `{click_id}` at click time
// (it is a link macro), Adjust its own placeholders when it calls back.
const adjustCommon = {
  click_id: '{click_id}',
  app_id: '{app_id}',
  country_code: '{country}',
  install_time: '{installed_at}',
  os: '{os_name}',
  is_reattribution: '{is_reattributed}',
} as const;

const singularCommon = { click_id: '{CLID}', is_reattribution: '{IS_RE_ENG}', event_time: '{UTCM}', country_code: '{COUNTRY}', os: '{OS}' } as const;
// Branch writes Freemarker: ${(name)!} is the value of `name`, or nothing when it has none.
const freemarker = (name: string) => `\${(${name})!}`;
const branchCommon = {
  click_id: freemarker('click_id'),
  attributed: freemarker('attributed'),
  event_time: freemarker('timestamp'),
  touch_type: freemarker('last_attributed_touch_type'),
} as const;
const kochavaCommon = { click_id: '{click_id}', app_id: '{app_id}', country_code: '{country_code}', install_time: '{install_date_utc}' } as const;

export const PRESET_FACTS: Record<Exclude<Preset, 'custom'>, PresetFacts> = {
  appsflyer: {
    timestampFormat: null, // install-unix-ts is seconds, click-ts a date and time: detected per value
    revenueUnit: 'units',
    install: { ...appsflyerCommon, event_name: 'install' },
    event: {
      ...appsflyerCommon,
      event_name: '(event-name)',
      event_id: '(event-id)',
      event_value: '(encode)(event-value)',
      revenue: '(event-revenue)',
      currency: '(event-revenue-currency)',
      event_time: '(event-time)',
    },
    ranges: ['45.92.116.0/22', '194.28.46.0/23'],
  },
  adjust: {
    timestampFormat: 'unix_s',
    revenueUnit: 'units', // {revenue_float}; {revenue} would be cents
    install: { ...adjustCommon, event_name: 'install' },
    event: { ...adjustCommon, event_name: '{event_name}', revenue: '{revenue_float}', currency: '{currency}', event_time: '{created_at}' },
    ranges: ['178.162.216.64/26', '178.162.216.128/26'],
  },
  singular: {
    timestampFormat: null,
    revenueUnit: 'units',
    install: { ...singularCommon, event_name: 'install' },
    event: { ...singularCommon, event_name: '{EVTNAME}', revenue: '{AMOUNT}', currency: '{CURRENCY}' },
    ranges: ['198.134.6.0/23'],
  },
  branch: {
    timestampFormat: 'unix_ms',
    revenueUnit: 'units',
    install: { ...branchCommon, event_name: 'install' },
    event: { ...branchCommon, event_name: freemarker('name'), revenue: freemarker('revenue'), currency: freemarker('currency') },
    ranges: [],
  },
  kochava: {
    timestampFormat: null,
    revenueUnit: 'units',
    install: { ...kochavaCommon, event_name: 'install' },
    event: { ...kochavaCommon, event_name: '{event_name}', revenue: '{revenue}', currency: '{currency}' },
    ranges: [],
  },
};

/** The request's parameter name of each field: skanpost's own, unless a custom mapping says otherwise. */
export const paramName = (params: Record<string, string>, field: MmpField) => params[field] ?? field;

/**
 * The two URLs to paste into the MMP's dashboard: installs and in-app events, each the intake URL
 * with the token and every field the MMP can fill. For `custom`, each value is skanpost's field
 * name in braces, to be replaced by the MMP's own macro.
 */
export function postbackUrlTemplates(partner: { id: number; preset: Preset; params: Record<string, string> }, origin: string, token: string): { install: string; event: string } {
  const build = (macros: Partial<Record<MmpField, string>>) =>
    `${origin}/mmp/${partner.id}?token=${encodeURIComponent(token)}${Object.entries(macros)
      .map(([field, macro]) => `&${encodeURIComponent(paramName(partner.params, field as MmpField))}=${macro}`)
      .join('')}`;
  if (partner.preset === 'custom') {
    const all = (fields: readonly MmpField[]) => Object.fromEntries(fields.map((f) => [f, `{${f}}`]));
    // An install has no event of its own: every field but the event's.
    const eventOnly: readonly MmpField[] = ['event_name', 'event_id', 'event_value', 'revenue', 'currency', 'event_time'];
    const common = MMP_FIELDS.filter((f) => !eventOnly.includes(f));
    return {
      install: build({ ...all(common), event_name: 'install' }),
      event: build(all(MMP_FIELDS)),
    };
  }
  const facts = PRESET_FACTS[partner.preset];
  return { install: build(facts.install), event: build(facts.event) };
}
