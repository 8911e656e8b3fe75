// Report dimensions: the public names analysts use in `group_by`, filters and CSV headers, and
// the rollup column each reads. (Metrics are in report/metrics.ts.)

type DimensionType = 'text' | 'int' | 'bool' | 'date';

export interface Dimension {
  name: string;
  /** Column in `rollups` / `rollup_events`; absent for `date`, which comes from the day join. */
  column?: string;
  type: DimensionType;
  /** Allowed filter values, where the set is closed. */
  values?: readonly string[];
}

const d = (name: string, type: DimensionType, values?: readonly string[]): Dimension => ({ name, column: name, type, ...(values ? { values } : {}) });

const DIMENSIONS: readonly Dimension[] = [
  { name: 'date', type: 'date' },
  d('protocol', 'text', ['skan', 'aak']),
  d('environment', 'text', ['production', 'development']),
  d('ad_network_id', 'text'),
  d('app_id', 'int'),
  d('campaign', 'text'),
  // The network's own campaign id, from the campaign-name mappings: where SKAN, MMP postbacks and uploads meet.
  d('network_campaign_id', 'text'),
  d('source_identifier', 'text'),
  d('window', 'int', ['0', '1', '2']),
  d('fidelity_type', 'int'),
  d('redownload', 'bool'),
  d('did_win', 'bool'),
  d('version', 'text'),
  d('conversion_type', 'text', ['download', 'redownload', 're-engagement']),
  d('ad_interaction_type', 'text', ['view', 'click']),
  d('country_code', 'text'),
  d('conversion_value', 'int'),
  d('coarse_conversion_value', 'text', ['low', 'medium', 'high']),
  d('source_app_id', 'int'),
  d('source_domain', 'text'),
];

/** Only in /v1/reports/events. */
const EVENT_DIMENSION: Dimension = d('event', 'text');

/**
 * /v1/reports/mmp, over `mmp_rollups`. `link_id`, `network_campaign_id`, `campaign` and `sub1` come
 * only from a validated click; `event` is null on click and impression rows.
 */
const MMP_DIMENSIONS: readonly Dimension[] = [
  { name: 'date', type: 'date' },
  d('app_id', 'int'),
  d('ad_network_id', 'text'),
  d('link_id', 'int'),
  d('network_campaign_id', 'text'),
  d('campaign', 'text'),
  d('mmp_partner_id', 'int'),
  d('event', 'text'),
  d('touch_type', 'text', ['click', 'impression']),
  d('country_code', 'text'),
  d('sub1', 'text'),
];

/** /v1/reports/discrepancies: the dimensions SKAN, MMP postbacks and uploaded figures share. */
const DISCREPANCY_DIMENSIONS: readonly Dimension[] = [
  { name: 'date', type: 'date' },
  d('app_id', 'int'),
  d('ad_network_id', 'text'),
  d('campaign', 'text'),
  d('network_campaign_id', 'text'),
];

/** /v1/reports/copies: transactions by how their copies arrived. */
const COPY_DIMENSIONS: readonly Dimension[] = [{ name: 'date', type: 'date' }, d('ad_network_id', 'text'), d('app_id', 'int'), d('channel', 'text')];

/** The reports over one rollup table each. */
export type ReportKind = 'campaigns' | 'events' | 'mmp';
/** Every report whose parameters are read the same way (the discrepancy report combines the others). */
export type ParamKind = ReportKind | 'discrepancies' | 'copies';

const BY_KIND: Record<ParamKind, readonly Dimension[]> = {
  campaigns: DIMENSIONS,
  events: [...DIMENSIONS, EVENT_DIMENSION],
  mmp: MMP_DIMENSIONS,
  discrepancies: DISCREPANCY_DIMENSIONS,
  copies: COPY_DIMENSIONS,
};

export const dimensionsOf = (kind: ParamKind): readonly Dimension[] => BY_KIND[kind];

export const dimensionByName = (name: string, kind: ParamKind) => dimensionsOf(kind).find((x) => x.name === name);
