// Which postbacks a destination wants: every filter that is set must hold.
import type { DestinationRow, PostbackRow } from '../db/schema.js';

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
