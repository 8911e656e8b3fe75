// The `postbacks` columns a bench writes by bare statements, in the order its rows give them: the
// verdict, the body and the fields of a signed SKAN postback (the group-commit floor writes these),
// then what `bench:reports`' raw rows add for the query-time peer.
export const SIGNED_POSTBACK_COLUMNS = [
  'received_at',
  'protocol',
  'environment',
  'version',
  'signature',
  'reasons',
  'outcome',
  'dedupe_key',
  'body_sha256',
  'body',
  'ad_network_id',
  'transaction_id',
  'postback_sequence_index',
  'source_identifier',
  'app_id',
  'source_app_id',
  'redownload',
  'fidelity_type',
  'did_win',
  'conversion_value',
] as const;

export const RAW_POSTBACK_COLUMNS = [
  ...SIGNED_POSTBACK_COLUMNS,
  'coarse_conversion_value',
  'country_code',
  'campaign',
  'installed_at',
  'campaign_name',
  'network_campaign_id',
] as const;
