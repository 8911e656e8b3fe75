// URL and body templates: `{macro}` replaced by a postback's values, URL-encoded, '' when absent.

import type { MmpPostbackRow, PostbackRow } from '../db/schema.js';
import type { Decode } from '../model/decode.js';

const FIELD_MACROS: Record<string, (p: PostbackRow) => unknown> = {
  protocol: (p) => p.protocol,
  environment: (p) => p.environment,
  version: (p) => p.version,
  ad_network_id: (p) => p.adNetworkId,
  transaction_id: (p) => p.transactionId,
  postback_identifier: (p) => p.transactionId,
  postback_sequence_index: (p) => p.postbackSequenceIndex,
  campaign_id: (p) => p.campaignId,
  source_identifier: (p) => p.sourceIdentifier,
  app_id: (p) => p.appId,
  advertised_item_identifier: (p) => p.appId,
  source_app_id: (p) => p.sourceAppId,
  publisher_item_identifier: (p) => p.sourceAppId,
  source_domain: (p) => p.sourceDomain,
  redownload: (p) => p.redownload,
  fidelity_type: (p) => p.fidelityType,
  did_win: (p) => p.didWin,
  conversion_value: (p) => p.conversionValue,
  coarse_conversion_value: (p) => p.coarseConversionValue,
  country_code: (p) => p.countryCode,
  ad_interaction_type: (p) => p.adInteractionType,
  conversion_type: (p) => p.conversionType,
  impression_type: (p) => p.impressionType,
  marketplace_identifier: (p) => p.marketplaceIdentifier,
  attribution_signature: (p) => (JSON.parse(p.body) as Record<string, unknown>)['attribution-signature'],
  jws_string: (p) => (JSON.parse(p.body) as Record<string, unknown>)['jws-string'],
  campaign: (p) => p.campaign,
  campaign_name: (p) => p.campaignName,
  network_campaign_id: (p) => p.networkCampaignId,
  received_at: (p) => p.receivedAt.toISOString(),
  signature: (p) => p.signature,
  event_name: (p) => p.decode?.events[0]?.name,
  event_names: (p) => p.decode?.events.map((e) => e.name).join(','),
  revenue_min: (p) => revenue(p.decode, 'revenueMinMicros'),
  revenue_max: (p) => revenue(p.decode, 'revenueMaxMicros'),
  currency: (p) => p.decode?.currency,
};

function revenue(decode: Decode | null, key: 'revenueMinMicros' | 'revenueMaxMicros') {
  return decode ? decode[key] / 1e6 : undefined;
}

const seconds = (at: Date | null) => (at ? Math.floor(at.getTime() / 1000) : undefined);

// An MMP postback's macros: so that `…?click_id={click_id}&event_name={event_name}&event_value={event_value}&timestamp={timestamp}`
// relays it to a publisher or bidder as written.
const MMP_FIELD_MACROS: Record<string, (p: MmpPostbackRow) => unknown> = {
  click_id: (p) => p.clickId,
  event_name: (p) => p.eventName,
  event_id: (p) => p.eventId,
  event_value: (p) => p.eventValue,
  revenue: (p) => p.revenue,
  currency: (p) => p.currency,
  timestamp: (p) => seconds(p.eventTime),
  install_time: (p) => seconds(p.installTime),
  touch_type: (p) => p.touchType,
  sub1: (p) => p.sub1,
  sub2: (p) => p.sub2,
  sub3: (p) => p.sub3,
  sub4: (p) => p.sub4,
  sub5: (p) => p.sub5,
  link_id: (p) => p.linkId,
  network_campaign_id: (p) => p.networkCampaignId,
  campaign: (p) => p.campaign,
  app_id: (p) => p.appId,
  ad_network_id: (p) => p.adNetworkId,
  country_code: (p) => p.countryCode,
  outcome: (p) => p.outcome,
  received_at: (p) => p.receivedAt.toISOString(),
};

/** What a copy is of: one of Apple's postbacks, or an MMP postback. */
export type Subject = { kind: 'postback'; row: PostbackRow } | { kind: 'mmp'; row: MmpPostbackRow };

export const MACROS = [...new Set([...Object.keys(FIELD_MACROS), ...Object.keys(MMP_FIELD_MACROS)])];
const MACRO = /\{([a-z_0-9]+)\}/g;

/** Macros a template names that do not exist (an error when the destination is saved). */
export function unknownMacros(template: string): string[] {
  return [...template.matchAll(MACRO)].map((m) => m[1]!).filter((name) => !MACROS.includes(name));
}

/** The template with the subject's values; a macro of the other kind of postback is empty. */
export function renderTemplate(template: string, subject: Subject, encode: (value: string) => string = encodeURIComponent): string {
  return template.replace(MACRO, (_, name: string) => {
    const value = subject.kind === 'postback' ? FIELD_MACROS[name]?.(subject.row) : MMP_FIELD_MACROS[name]?.(subject.row);
    return value === null || value === undefined ? '' : encode(String(value));
  });
}
