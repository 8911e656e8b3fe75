// Apple's dedupe rule (docs/postbacks.md, "Which copy counts"): the first verified copy of a postback counts;
// a later copy is a duplicate when it agrees on the values a relay may alter, else a conflict.
import type { Inspection, PostbackFields } from './types.js';

/** Only real copies (verified, or development) may claim a key: a forgery can never block the genuine one. */
const claims = (inspection: Inspection) => inspection.signature === 'verified' || inspection.signature === 'development';

/** (protocol, environment, network, id compared case-insensitively, window 0 when absent). */
export function dedupeKey(inspection: Inspection): string | null {
  const { adNetworkId, transactionId, postbackSequenceIndex } = inspection.fields;
  if (!claims(inspection) || adNetworkId === null || transactionId === null) return null;
  return JSON.stringify([inspection.protocol, inspection.environment, adNetworkId, transactionId.toLowerCase(), postbackSequenceIndex ?? 0]);
}

type UnsignedValues = Partial<Pick<PostbackFields, 'conversionValue' | 'coarseConversionValue' | 'countryCode' | 'adInteractionType'>>;

/** The values a relay may alter without breaking the signature: copies must agree on them. */
export function sameUnsignedValues(a: UnsignedValues, b: UnsignedValues): boolean {
  return (
    (a.conversionValue ?? null) === (b.conversionValue ?? null) &&
    (a.coarseConversionValue ?? null) === (b.coarseConversionValue ?? null) &&
    (a.countryCode ?? null) === (b.countryCode ?? null) &&
    (a.adInteractionType ?? null) === (b.adInteractionType ?? null)
  );
}
