// The columns derived from a postback and the app's settings: campaign, estimated install time,
// the decode by the schema in force then, and the campaign name in force then.

import type { NewPostbackRow, PostbackRow } from '../db/schema.js';
import { campaignKey, type Settings } from '../db/settings-snapshot.js';
import type { Decode } from '../model/decode.js';
import { campaignOf } from './campaign.js';
import { decodeConversion } from './decode.js';
import { estimateInstall, type InstallModel } from './install-date.js';
import { schemaInForce } from './schema.js';

export interface Derived {
  campaign: string | null;
  installedAt: Date;
  decode: Decode | null;
  campaignName: string | null;
  networkCampaignId: string | null;
}

type Source = Pick<
  NewPostbackRow,
  'protocol' | 'version' | 'receivedAt' | 'adNetworkId' | 'appId' | 'sourceIdentifier' | 'campaignId' | 'postbackSequenceIndex' | 'conversionValue' | 'coarseConversionValue'
>;

const inForce = (m: { effectiveFrom: Date | null; effectiveTo: Date | null }, at: Date) =>
  (m.effectiveFrom === null || m.effectiveFrom <= at) && (m.effectiveTo === null || at < m.effectiveTo);

/** A source identifier and the shorter forms a lower tier would carry: `5239`, `239`, `39`. */
function identifierForms(row: Source): string[] {
  const id = row.sourceIdentifier ?? (row.campaignId !== null && row.campaignId !== undefined ? String(row.campaignId).padStart(2, '0') : null);
  if (id === null || !/^\d{2,4}$/.test(id)) return [];
  return [id, id.slice(-3), id.slice(-2)].filter((form, i, all) => form.length >= 2 && all.indexOf(form) === i);
}

export function deriveColumns(settings: Settings, row: Source, model: InstallModel): Derived {
  const window = row.postbackSequenceIndex ?? 0;
  const installedAt = estimateInstall(row.receivedAt, { protocol: row.protocol, version: row.version ?? null, window }, model);
  const derived: Derived = {
    campaign: campaignOf({ sourceIdentifier: row.sourceIdentifier ?? null, campaignId: row.campaignId ?? null }),
    installedAt,
    decode: null,
    campaignName: null,
    networkCampaignId: null,
  };
  if (row.appId === null || row.appId === undefined) return derived;

  const schema = schemaInForce(settings.schemasByApp.get(row.appId) ?? [], installedAt);
  derived.decode =
    decodeConversion(
      { conversionValue: row.conversionValue ?? null, coarseConversionValue: row.coarseConversionValue ?? null, window },
      schema && { ...schema, definition: schema.definition },
    ) ?? null;

  if (row.adNetworkId) {
    const mappings = settings.campaignsByNetworkApp.get(campaignKey(row.adNetworkId, row.appId)) ?? [];
    // The most specific identifier wins; among mappings of one identifier, the latest created.
    for (const form of identifierForms(row)) {
      const match = mappings.filter((m) => m.sourceIdentifier === form && inForce(m, installedAt)).sort((a, b) => b.id - a.id)[0];
      if (match) {
        derived.campaignName = match.name;
        derived.networkCampaignId = match.networkCampaignId;
        break;
      }
    }
  }
  return derived;
}

export const sameDerived = (row: PostbackRow, derived: Derived) =>
  row.campaign === derived.campaign &&
  row.installedAt?.getTime() === derived.installedAt.getTime() &&
  JSON.stringify(row.decode) === JSON.stringify(derived.decode) &&
  row.campaignName === derived.campaignName &&
  row.networkCampaignId === derived.networkCampaignId;
