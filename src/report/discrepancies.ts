// The discrepancy report: SKAN installs (Apple's postbacks), MMP installs (MMP postbacks) and the
// figures uploaded from elsewhere, side by side per group, each compared with a reference source.
// SKAN and MMP figures come from the same rollup reports as /v1/reports/campaigns, /events and /mmp;
// docs/discrepancies.md explains each cause of a gap and how to read the status.
import { z } from '@hono/zod-openapi';
import type { Db } from '../db/db.js';
import { type CampaignMapping, reportedGroups } from '../db/reported.js';
import { dimensionByName } from './dimensions.js';
import type { ReportValue } from './metrics.js';
import { buildReportQuery, ReportParamError, type ReportQuery, reportParams } from './query.js';
import type { WholeReport } from './render.js';
import { REPORTED_METRICS } from './reported.js';
import { MAX_REPORT_ROWS, ReportTooLargeError, runReport } from './run.js';

export const DISCREPANCY_STATUSES = ['no_reference', 'incomplete', 'over_threshold', 'ok'] as const;
type Status = (typeof DISCREPANCY_STATUSES)[number];

const SOURCE = /^[a-z0-9_-]{1,64}$/;

/** `threshold_pct`: percent, default SKANPOST_DISCREPANCY_THRESHOLD_PCT. */
export const thresholdParam = (meaning: string) =>
  z
    .string()
    .regex(/^\d{1,4}(\.\d+)?$/, 'threshold_pct must be a number of percent, such as 10')
    .transform(Number)
    .optional()
    .openapi({ description: `${meaning} (default SKANPOST_DISCREPANCY_THRESHOLD_PCT, 10)` });

export function discrepancyParams() {
  return reportParams('discrepancies')
    .omit({ date_basis: true })
    .extend({
      metric: z
        .enum(REPORTED_METRICS, { error: `metric must be ${REPORTED_METRICS.join(', ')}` })
        .optional()
        .openapi({ description: 'installs (default), events or revenue' }),
      event: z.string().min(1).max(200).optional().openapi({ description: 'events and revenue: this event only' }),
      reference: z
        .string()
        .regex(SOURCE, 'reference must be skan, mmp or an uploaded source')
        .optional()
        .openapi({ description: 'the source the others are compared with (default network when uploaded, else skan)' }),
      threshold_pct: thresholdParam('a gap beyond this is over_threshold'),
      skan_date_basis: z.enum(['install', 'arrival'], { error: 'skan_date_basis must be install or arrival' }).optional().openapi({ description: 'install (default) or arrival' }),
      mmp_date_basis: z.enum(['event', 'click'], { error: 'mmp_date_basis must be event or click' }).optional().openapi({ description: 'event (default) or click' }),
    })
    .strict();
}
export type DiscrepancyParams = z.output<ReturnType<typeof discrepancyParams>>;

export interface DiscrepancyQuery {
  base: ReportQuery<'discrepancies'>;
  metric: (typeof REPORTED_METRICS)[number];
  event: string | undefined;
  reference: string | undefined;
  thresholdPct: number;
  skanBasis: 'install' | 'arrival';
  mmpBasis: 'event' | 'click';
  /** The campaign-name mappings that resolve uploaded rows (read from `DB` by the route: shards have none). */
  campaigns: readonly CampaignMapping[];
}

export function buildDiscrepancyQuery(params: DiscrepancyParams, today: Date, defaultThresholdPct: number, campaigns: readonly CampaignMapping[]): DiscrepancyQuery {
  const base = buildReportQuery({ ...params, date_basis: undefined }, 'discrepancies', today);
  if (params.event !== undefined && (params.metric ?? 'installs') === 'installs') throw new ReportParamError('event', 'event goes with metric=events or metric=revenue');
  return {
    base,
    metric: params.metric ?? 'installs',
    event: params.event,
    reference: params.reference,
    thresholdPct: params.threshold_pct ?? defaultThresholdPct,
    skanBasis: params.skan_date_basis ?? 'install',
    mmpBasis: params.mmp_date_basis ?? 'event',
    campaigns,
  };
}

/** A figure that may be a range (SKAN's decoded revenue): [low, high]. */
type Figure = [number, number];

/** (source − reference) / reference × 100, one decimal; between ranges, the nearest points of the two. */
export function gapPct(source: Figure, reference: Figure): number | null {
  const mid = (reference[0] + reference[1]) / 2;
  if (mid === 0) return null;
  const difference = source[1] < reference[0] ? source[1] - reference[0] : source[0] > reference[1] ? source[0] - reference[1] : 0;
  return Math.round((difference / mid) * 1000) / 10;
}

interface Group {
  keys: ReportValue[];
  skan: Figure;
  skanCurrency: string | null | undefined;
  mmp: number;
  mmpFraudRejected: number;
  mmpUnattributed: number;
  mmpCurrency: string | null | undefined;
  reported: Map<string, { value: number; currencies: Array<string | null> }>;
}

/** SQLite's order: nulls first, then numbers, then text. */
function compareKeys(a: ReportValue[], b: ReportValue[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null) return -1;
    if (y === null) return 1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

/** One currency for the row: the one every source that has revenue agrees on, else MIXED. */
function currencyOf(codes: Array<string | null | undefined>): string | null {
  if (codes.includes(undefined)) return 'MIXED';
  const present = [...new Set(codes.filter((c): c is string => c !== null && c !== undefined))];
  return present.length === 0 ? null : present.length === 1 ? present[0]! : 'MIXED';
}

export async function runDiscrepancies(dbs: readonly Db[], q: DiscrepancyQuery, now: Date, fillingHorizonMs: number): Promise<WholeReport> {
  const { base, metric } = q;
  const groupNames = base.groupBy.map((g) => g.name);
  // Each side's own report, grouped and filtered by the shared dimensions under its own names.
  const sideQuery = <K extends 'campaigns' | 'events' | 'mmp'>(
    kind: K,
    dateBasis: ReportQuery['dateBasis'],
    extra: Array<{ dim: string; values: Array<string | number | null> }>,
  ) =>
    ({
      ...base,
      kind,
      dateBasis,
      groupBy: base.groupBy.map((g) => dimensionByName(g.name, kind)!),
      filters: [
        ...base.filters.map((f) => ({ dim: dimensionByName(f.dim.name, kind)!, values: f.values })),
        ...extra.map((f) => ({ dim: dimensionByName(f.dim, kind)!, values: f.values })),
      ],
    }) as ReportQuery;

  const groups = new Map<string, Group>();
  const groupOf = (keys: ReportValue[]): Group => {
    const id = JSON.stringify(keys);
    let g = groups.get(id);
    if (!g) {
      g = { keys, skan: [0, 0], skanCurrency: null, mmp: 0, mmpFraudRejected: 0, mmpUnattributed: 0, mmpCurrency: null, reported: new Map() };
      groups.set(id, g);
    }
    return g;
  };
  const n = groupNames.length;
  /** A side report's figures by column name, the positions looked up once per report. */
  const reader = (columns: string[]) => {
    const at = new Map(columns.map((c, i) => [c, i]));
    return (row: ReportValue[], name: string) => row[at.get(name)!] as number;
  };

  // SKAN: production only, as every report. Decoded revenue is not kept per event.
  const production = [{ dim: 'environment', values: ['production'] }];
  if (metric === 'installs' || (metric === 'revenue' && q.event === undefined)) {
    const skan = await runReport(dbs, sideQuery('campaigns', q.skanBasis, production), now, fillingHorizonMs);
    const read = reader(skan.columns);
    for (const row of skan.rows) {
      const g = groupOf(row.slice(0, n));
      if (metric === 'installs') g.skan = [read(row, 'installs'), read(row, 'installs')];
      else {
        g.skan = [read(row, 'revenue_min') ?? 0, read(row, 'revenue_max') ?? 0];
        const currency = row[skan.columns.indexOf('currency')] as string | null;
        g.skanCurrency = currency === 'MIXED' ? undefined : currency;
      }
    }
  } else if (metric === 'events') {
    const eventReport = await runReport(dbs, sideQuery('events', q.skanBasis, [...production, ...(q.event ? [{ dim: 'event', values: [q.event] }] : [])]), now, fillingHorizonMs);
    const read = reader(eventReport.columns);
    for (const row of eventReport.rows) {
      const g = groupOf(row.slice(0, n));
      g.skan = [read(row, 'count_min'), read(row, 'count_max')];
    }
  }

  const mmpEvent = metric === 'installs' ? ['install'] : q.event ? [q.event] : undefined;
  const mmp = await runReport(dbs, sideQuery('mmp', q.mmpBasis, mmpEvent ? [{ dim: 'event', values: mmpEvent }] : []), now, fillingHorizonMs);
  const readMmp = reader(mmp.columns);
  for (const row of mmp.rows) {
    const g = groupOf(row.slice(0, n));
    const value = readMmp(row, metric === 'installs' ? 'installs' : metric === 'events' ? 'events' : 'revenue');
    g.mmp = value ?? 0;
    g.mmpFraudRejected = readMmp(row, 'fraud_rejected');
    g.mmpUnattributed = readMmp(row, 'unattributed');
    if (metric === 'revenue') {
      const currency = row[mmp.columns.indexOf('currency')] as string | null;
      g.mmpCurrency = currency === 'MIXED' ? undefined : currency;
    }
  }

  const reported = await reportedGroups(dbs, {
    tz: base.tz,
    from: base.from,
    to: base.to,
    metric,
    event: q.event,
    groupBy: groupNames,
    filters: base.filters.map((f) => ({ column: f.dim.name, values: f.values })),
    campaigns: q.campaigns,
  });
  const sources = [...new Set(reported.groups.map((r) => r.source))].sort();
  for (const r of reported.groups) {
    const g = groupOf(r.keys);
    const currencies = r.currencyMin === r.currencyMax ? [r.currencyMin] : [r.currencyMin, r.currencyMax];
    g.reported.set(r.source, { value: r.value, currencies });
  }

  // Days are complete once no window-0 postback can still arrive for them (install basis) or once over.
  const filling = q.skanBasis === 'install' ? fillingHorizonMs : 0;
  const completeDays = new Map(base.days.map((d) => [d.day, now.getTime() >= d.endMs + filling]));
  const rangeComplete = completeDays.get(base.days.at(-1)!.day) ?? false;

  const reference = q.reference ?? (sources.includes('network') ? 'network' : 'skan');
  const compared = ['skan', 'mmp', ...sources].filter((s) => s !== reference);
  const dateAt = groupNames.indexOf('date');
  // SKAN's decoded revenue is not kept per event: with an event, revenue compares MMP and uploads only.
  const skanPerEvent = metric === 'revenue' && q.event !== undefined;

  const figureOf = (g: Group, source: string): Figure | null => {
    if (source === 'skan') return g.skan;
    if (source === 'mmp') return [g.mmp, g.mmp];
    const r = g.reported.get(source);
    return r ? [r.value, r.value] : null;
  };

  const columns = [
    ...groupNames,
    ...(metric === 'installs' ? ['skan_installs'] : metric === 'events' ? ['skan_events', 'skan_events_max'] : ['skan_revenue_min', 'skan_revenue_max']),
    'skan_complete',
    ...(metric === 'installs' ? ['mmp_installs', 'mmp_fraud_rejected', 'mmp_unattributed'] : [`mmp_${metric}`]),
    ...sources.map((s) => `reported_${s}_${metric}`),
    ...(metric === 'revenue' ? ['currency'] : []),
    'reference',
    ...compared.map((s) => `${s}_gap_pct`),
    ...(metric === 'installs' ? ['opt_in_share'] : []),
    'status',
  ];
  const ordered = [...groups.values()].sort((a, b) => compareKeys(a.keys, b.keys));
  if (ordered.length > MAX_REPORT_ROWS) throw new ReportTooLargeError();
  const rows = ordered.map((g) => {
    const skanComplete = dateAt >= 0 ? (completeDays.get(g.keys[dateAt] as string) ?? false) : rangeComplete;
    const currency =
      metric === 'revenue' ? currencyOf([...(q.event === undefined ? [g.skanCurrency] : []), g.mmpCurrency, ...[...g.reported.values()].flatMap((r) => r.currencies)]) : null;
    const ref = reference === 'skan' && skanPerEvent ? null : figureOf(g, reference);
    const noReference = ref === null || ref[0] + ref[1] === 0 || currency === 'MIXED';
    const gaps = compared.map((s) => {
      const figure = figureOf(g, s);
      return noReference || figure === null || (s === 'skan' && skanPerEvent) ? null : gapPct(figure, ref!);
    });
    // MMP postbacks cover opted-in users only: their relation to the rest is the opt-in share.
    const status: Status = noReference
      ? 'no_reference'
      : !skanComplete && (reference === 'skan' || gaps[compared.indexOf('skan')] !== null)
        ? 'incomplete'
        : compared.some((s, i) => s !== 'mmp' && gaps[i] !== null && Math.abs(gaps[i]!) > q.thresholdPct)
          ? 'over_threshold'
          : 'ok';
    return [
      ...g.keys,
      ...(metric === 'installs' ? [g.skan[0]] : skanPerEvent ? [null, null] : [g.skan[0], g.skan[1]]),
      skanComplete,
      ...(metric === 'installs' ? [g.mmp, g.mmpFraudRejected, g.mmpUnattributed] : [g.mmp]),
      ...sources.map((s) => g.reported.get(s)?.value ?? null),
      ...(metric === 'revenue' ? [currency] : []),
      reference,
      ...gaps,
      ...(metric === 'installs' ? [g.skan[0] ? Math.round((g.mmp / g.skan[0]) * 10_000) / 10_000 : null] : []),
      status,
    ] as ReportValue[];
  });
  return {
    columns,
    rows,
    meta: {
      from: base.from,
      to: base.to,
      tz: base.tz,
      group_by: groupNames,
      metric,
      ...(q.event !== undefined ? { event: q.event } : {}),
      reference,
      threshold_pct: q.thresholdPct,
      skan_date_basis: q.skanBasis,
      mmp_date_basis: q.mmpBasis,
      sources: ['skan', 'mmp', ...sources],
      skipped_reported_rows: reported.skipped,
      generated_at: now.toISOString(),
      complete: rangeComplete,
      columns,
    },
  };
}
