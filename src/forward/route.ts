// Which postbacks a destination wants: every filter that is set must hold.
import type { DestinationRow, MmpPostbackRow, PostbackRow } from '../db/schema.js';

type Routable = Pick<PostbackRow, 'appId' | 'adNetworkId' | 'protocol' | 'postbackSequenceIndex' | 'didWin' | 'signature' | 'environment' | 'decode' | 'outcome'>;

export function wants(destination: Pick<DestinationRow, 'filters' | 'enabled'>, postback: Routable): boolean {
  const f = destination.filters;
  if (!destination.enabled || postback.outcome !== 'stored') return false;
  if (postback.environment === 'development' && !f.include_development) return false;
  const real = postback.signature === 'verified' || postback.signature === 'development';
  if (f.verified_only !== false && !real) return false;
  if (f.app_ids && (postback.appId === null || !f.app_ids.includes(postback.appId))) return false;
  if (f.ad_network_ids && (postback.adNetworkId === null || !f.ad_network_ids.includes(postback.adNetworkId))) return false;
  if (f.protocols && !f.protocols.includes(postback.protocol)) return false;
  if (f.windows && !f.windows.includes(postback.postbackSequenceIndex ?? 0)) return false;
  if (f.winning_only && postback.didWin === false) return false;
  if (f.event_names && !postback.decode?.events.some((e) => f.event_names!.includes(e.name))) return false;
  return true;
}

/** The ids of the destinations that get a copy of `postback` (duplicates and conflicts: none). */
export const destinationsFor = (postback: Routable, destinations: readonly DestinationRow[]): number[] =>
  postback.outcome === 'stored' ? destinations.filter((d) => wants(d, postback)).map((d) => d.id) : [];

type MmpRoutable = Pick<MmpPostbackRow, 'appId' | 'adNetworkId' | 'outcome' | 'eventName'>;

/**
 * Whether a destination wants an MMP postback: only one that names `mmp` among its protocols (a
 * destination saved before MMP postbacks existed keeps receiving Apple's only). `verified_only`
 * means accepted; windows, winning and development do not apply; `event_names` filters by event.
 */
function wantsMmp(destination: Pick<DestinationRow, 'filters' | 'enabled'>, postback: MmpRoutable): boolean {
  const f = destination.filters;
  if (!destination.enabled || !f.protocols?.includes('mmp')) return false;
  if (f.verified_only !== false && postback.outcome !== 'accepted') return false;
  if (f.app_ids && (postback.appId === null || !f.app_ids.includes(postback.appId))) return false;
  if (f.ad_network_ids && (postback.adNetworkId === null || !f.ad_network_ids.includes(postback.adNetworkId))) return false;
  if (f.event_names && !f.event_names.includes(postback.eventName)) return false;
  return true;
}

export const mmpDestinationsFor = (postback: MmpRoutable, destinations: readonly DestinationRow[]): number[] => destinations.filter((d) => wantsMmp(d, postback)).map((d) => d.id);
