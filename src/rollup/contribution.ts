// What one stored postback adds to the aggregates: a pure function of its row, so ingest,
// re-verification, re-decoding and rebuilds all agree by construction.
import type { Decode } from '../conversion/decode.js';
import type { PostbackRow, RollupKey } from '../db/schema.js';

export const BUCKET_MS = 15 * 60 * 1000;
export const bucketOf = (at: Date) => Math.floor(at.getTime() / BUCKET_MS);

/** The row fields a contribution depends on. */
export type Contributor = Pick<
  PostbackRow,
  | 'protocol' | 'environment' | 'signature' | 'outcome' | 'receivedAt' | 'installedAt' | 'adNetworkId' | 'appId'
  | 'campaign' | 'campaignName' | 'sourceIdentifier' | 'postbackSequenceIndex' | 'fidelityType' | 'redownload'
  | 'didWin' | 'version' | 'conversionType' | 'countryCode' | 'conversionValue' | 'coarseConversionValue'
  | 'sourceAppId' | 'sourceDomain' | 'decode'
>;

export interface Contribution {
  key: RollupKey;
  postbacks: number;
  conflicts: number;
  revenueMinMicros: number;
  revenueMaxMicros: number;
  events: Array<{ event: string; countMin: number; countMax: number }>;
}

const text = (v: string | null | undefined) => v ?? '';
const int = (v: number | null | undefined) => v ?? -1;
const bool = (v: boolean | null | undefined) => (v === null || v === undefined ? -1 : v ? 1 : 0);

export function rollupKeyOf(row: Contributor): RollupKey {
  return {
    arrivalBucket: bucketOf(row.receivedAt),
    installBucket: bucketOf(row.installedAt ?? row.receivedAt),
    protocol: row.protocol,
    environment: row.environment,
    signature: row.signature,
    adNetworkId: text(row.adNetworkId),
    appId: int(row.appId),
    campaign: text(row.campaign),
    campaignName: text(row.campaignName),
    sourceIdentifier: text(row.sourceIdentifier),
    window: row.postbackSequenceIndex ?? 0,
    fidelityType: int(row.fidelityType),
    redownload: bool(row.redownload),
    didWin: bool(row.didWin),
    version: text(row.version),
    conversionType: text(row.conversionType),
    countryCode: text(row.countryCode),
    conversionValue: int(row.conversionValue),
    coarseConversionValue: text(row.coarseConversionValue),
    sourceAppId: int(row.sourceAppId),
    sourceDomain: text(row.sourceDomain),
    currency: text(row.decode?.currency),
  };
}

/**
 * A stored row counts as one postback (with its decoded revenue and events); a conflicting copy
 * counts only as a conflict; a duplicate counts nothing.
 */
export function contributionOf(row: Contributor): Contribution | undefined {
  if (row.outcome === 'duplicate') return undefined;
  const key = rollupKeyOf(row);
  if (row.outcome === 'conflict') return { key, postbacks: 0, conflicts: 1, revenueMinMicros: 0, revenueMaxMicros: 0, events: [] };
  const decode: Decode | null = row.decode;
  return {
    key,
    postbacks: 1,
    conflicts: 0,
    revenueMinMicros: decode?.revenueMinMicros ?? 0,
    revenueMaxMicros: decode?.revenueMaxMicros ?? 0,
    events: (decode?.events ?? []).map((e) => ({ event: e.name, countMin: e.min, countMax: e.max })),
  };
}
