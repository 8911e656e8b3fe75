// What one stored postback adds to the aggregates: a pure function of its row, so ingest,
// re-verification, re-decoding and rebuilds all agree by construction.

import { type PostbackRow, ROLLUP_MEASURES, type RollupKey, type RollupMeasures } from '../db/schema.js';
import type { Counts } from '../db/store.js';

export const BUCKET_MS = 15 * 60 * 1000;
export const bucketOf = (at: Date) => Math.floor(at.getTime() / BUCKET_MS);

/** The row fields a contribution depends on. */
export type Contributor = Pick<
  PostbackRow,
  | 'protocol'
  | 'environment'
  | 'signature'
  | 'outcome'
  | 'receivedAt'
  | 'installedAt'
  | 'adNetworkId'
  | 'appId'
  | 'campaign'
  | 'campaignName'
  | 'networkCampaignId'
  | 'sourceIdentifier'
  | 'postbackSequenceIndex'
  | 'fidelityType'
  | 'redownload'
  | 'didWin'
  | 'version'
  | 'conversionType'
  | 'adInteractionType'
  | 'countryCode'
  | 'conversionValue'
  | 'coarseConversionValue'
  | 'sourceAppId'
  | 'sourceDomain'
  | 'decode'
>;

export interface Contribution {
  key: RollupKey;
  measures: RollupMeasures;
  /** Decoded events of a real postback. */
  events: Array<{ event: string; countMin: number; countMax: number }>;
}

const NONE = Object.fromEntries(ROLLUP_MEASURES.map((m) => [m, 0])) as RollupMeasures;

// Objects on this path are built with Object.assign, not `{ ...a, b }`: Node 20's V8 makes a spread
// copy that then gains properties 30-100x slower (countsOf took ~65 µs per postback; BENCHMARKS.md).

const n = (condition: boolean) => (condition ? 1 : 0);
const cents = (micros: number | undefined) => (micros ? Math.round(micros / 10_000) : 0);

/**
 * The metric definitions (docs/reports.md, "Aggregates"). A real postback is verified, or a development one
 * (reported only when development is asked for). SKAN before 3.0 has no did-win: only the
 * winner got a postback. An install is a winning first-window postback that is not a
 * redownload (AdAttributionKit: conversion type download).
 */
function measuresOf(row: Contributor): RollupMeasures {
  const real = row.signature === 'verified' || row.signature === 'development';
  const window = row.postbackSequenceIndex ?? 0;
  const winningFirst = real && window === 0 && row.didWin !== false;
  const aak = row.protocol === 'aak';
  return Object.assign({}, NONE, {
    postbacks: 1,
    verified: n(real),
    installs: n(winningFirst && (aak ? row.conversionType === 'download' : row.redownload !== true)),
    redownloads: n(winningFirst && (aak ? row.conversionType === 'redownload' : row.redownload === true)),
    reengagements: n(winningFirst && aak && row.conversionType === 're-engagement'),
    nonWinning: n(real && row.didWin === false),
    window0: n(real && window === 0),
    window1: n(real && window === 1),
    window2: n(real && window === 2),
    nullValues: n(real && row.conversionValue === null && row.coarseConversionValue === null),
    coarseLow: n(real && row.coarseConversionValue === 'low'),
    coarseMedium: n(real && row.coarseConversionValue === 'medium'),
    coarseHigh: n(real && row.coarseConversionValue === 'high'),
    invalid: n(row.signature === 'invalid'),
    unverifiable: n(row.signature === 'unverifiable'),
    revenueMinCents: real ? cents(row.decode?.revenueMinMicros) : 0,
    revenueMaxCents: real ? cents(row.decode?.revenueMaxMicros) : 0,
  });
}

const text = (v: string | null | undefined) => v ?? '';
const int = (v: number | null | undefined) => v ?? -1;
const bool = (v: boolean | null | undefined) => (v === null || v === undefined ? -1 : v ? 1 : 0);

function rollupKeyOf(row: Contributor): RollupKey {
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
    networkCampaignId: text(row.networkCampaignId),
    sourceIdentifier: text(row.sourceIdentifier),
    window: row.postbackSequenceIndex ?? 0,
    fidelityType: int(row.fidelityType),
    redownload: bool(row.redownload),
    didWin: bool(row.didWin),
    version: text(row.version),
    conversionType: text(row.conversionType),
    adInteractionType: text(row.adInteractionType),
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
  if (row.outcome === 'conflict') return { key, measures: Object.assign({}, NONE, { conflicts: 1 }), events: [] };
  const measures = measuresOf(row);
  const events = measures.verified ? (row.decode?.events ?? []).map((e) => ({ event: e.name, countMin: e.min, countMax: e.max })) : [];
  return { key, measures, events };
}

/** The rows a contribution adds to (with sign -1, takes from): one rollup row, one per decoded event. */
export function countsOf(row: Contributor, sign: 1 | -1): Counts | undefined {
  const c = contributionOf(row);
  if (!c) return undefined;
  let measures = c.measures;
  if (sign === -1) {
    measures = Object.assign({}, NONE);
    for (const m of ROLLUP_MEASURES) measures[m] = -c.measures[m];
  }
  return {
    rollup: Object.assign({}, c.key, measures),
    events: c.events.map((e) => Object.assign({}, c.key, { event: e.event, postbacks: sign, countMin: sign * e.countMin, countMax: sign * e.countMax })),
  };
}
