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

export const DIMENSIONS: readonly Dimension[] = [
  { name: 'date', type: 'date' },
  d('protocol', 'text', ['skan', 'aak']),
  d('environment', 'text', ['production', 'development']),
  d('ad_network_id', 'text'),
  d('app_id', 'int'),
  d('campaign', 'text'),
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
export const EVENT_DIMENSION: Dimension = d('event', 'text');

export const dimensionByName = (name: string, events: boolean) =>
  DIMENSIONS.find((x) => x.name === name) ?? (events && name === EVENT_DIMENSION.name ? EVENT_DIMENSION : undefined);
