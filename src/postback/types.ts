// The shapes every layer shares: a postback's verdict and the fields skanpost keeps as columns.
import type { CoarseConversionValue } from './fields.js';
import type { JsonValue } from './json.js';
import type { Environment } from './keys.js';

export type Protocol = 'skan' | 'aak';
export type SignatureVerdict = 'verified' | 'invalid' | 'unverifiable' | 'development';

/** A reason a body cannot be kept at all (the 400 path), named by Apple's field name. */
export interface Problem {
  field: string;
  reason: string;
}

/**
 * Columns derived from a postback, under Apple's SKAN names; AdAttributionKit fields map onto
 * them (postback-identifier → transactionId, advertised-item-identifier → appId, …).
 * Only values that are signed for the postback's version, or unsigned values that passed their
 * checks, are set: a relay can add any key, and an unsigned extra is never trusted.
 */
export interface PostbackFields {
  adNetworkId: string | null;
  transactionId: string | null;
  postbackSequenceIndex: number | null;
  campaignId: number | null;
  sourceIdentifier: string | null;
  appId: number | null;
  sourceAppId: number | null;
  sourceDomain: string | null;
  redownload: boolean | null;
  fidelityType: number | null;
  didWin: boolean | null;
  conversionValue: number | null;
  coarseConversionValue: CoarseConversionValue | null;
  countryCode: string | null;
  adInteractionType: 'view' | 'click' | null;
  conversionType: 'download' | 'redownload' | 're-engagement' | null;
  impressionType: string | null;
  marketplaceIdentifier: string | null;
  kid: string | null;
}

export interface Inspection {
  protocol: Protocol;
  /** SKAN version as received (`1.0` when the key is absent); null for AdAttributionKit. */
  version: string | null;
  environment: Environment;
  signature: SignatureVerdict;
  reasons: string[];
  /** Which trusted key verified it (SKAN key id or AAK kid); null when none did. */
  key: string | null;
  /** The exact bytes the signature covers, when a recipe for them is known. */
  message: string | null;
  fields: PostbackFields;
}

export const emptyFields = (): PostbackFields => ({
  adNetworkId: null,
  transactionId: null,
  postbackSequenceIndex: null,
  campaignId: null,
  sourceIdentifier: null,
  appId: null,
  sourceAppId: null,
  sourceDomain: null,
  redownload: null,
  fidelityType: null,
  didWin: null,
  conversionValue: null,
  coarseConversionValue: null,
  countryCode: null,
  adInteractionType: null,
  conversionType: null,
  impressionType: null,
  marketplaceIdentifier: null,
  kid: null,
});

/** Sets a column from a value its zod schema has already accepted. */
export function setColumn(fields: PostbackFields, column: keyof PostbackFields | null, value: JsonValue): void {
  if (column) (fields as unknown as Record<string, JsonValue>)[column] = value;
}

/** `adNetworkId` → `ad_network_id`: the API and CLI spell fields as the report dimensions do. */
export function snakeKeys<T extends object>(object: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
}
