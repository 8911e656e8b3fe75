// Tracking links: what may be saved, and the URL a click is sent to (the MMP's attribution link
// with skanpost's macros filled, each value URL-encoded).
import { z } from 'zod';
import { campaignOf } from '../conversion/campaign.js';
import { getPartner, insertLink, type LinkColumns, type NewClick, replaceLink } from '../db/mmp.js';
import type { LinkRow } from '../db/schema.js';
import { campaignKey, type Settings } from '../db/settings-snapshot.js';
import type { Unit } from '../db/store.js';
import { FieldError } from '../model/field-error.js';
import type { Touch } from './click-id.js';

export const LINK_MACROS = ['click_id', 'network_campaign_id', 'campaign_name', 'app_id', 'link_id', 'sub1', 'sub2', 'sub3', 'sub4', 'sub5', 'timestamp'] as const;
type LinkMacro = (typeof LINK_MACROS)[number];
const MACRO = /\{([A-Za-z0-9_]+)\}/g;

/** Macros a URL names that skanpost does not fill. */
const unknownLinkMacros = (url: string) => [...url.matchAll(MACRO)].map((m) => m[1]!).filter((name) => !(LINK_MACROS as readonly string[]).includes(name));

const url = (field: string) =>
  z
    .string()
    .max(4000)
    .refine((u) => /^https?:\/\/[^/?#@\s]+/i.test(u), 'an http(s) URL, without credentials (a template may contain {macros})')
    .superRefine((u, ctx) => {
      const unknown = unknownLinkMacros(u);
      if (unknown.length)
        ctx.addIssue({
          code: 'custom',
          message: `unknown macro${unknown.length > 1 ? 's' : ''} ${unknown.map((m) => `{${m}}`).join(', ')} in ${field}; known: ${LINK_MACROS.map((m) => `{${m}}`).join(' ')}`,
        });
    });

export const LinkInput = z
  .object({
    name: z.string().min(1).max(200),
    app_id: z.number().int().min(1),
    ad_network_id: z.string().min(1).max(200),
    network_campaign_id: z.string().min(1).max(200),
    mmp_partner_id: z.number().int().min(1),
    target_url: url('target_url'),
    impression_url: url('impression_url').nullish(),
    click_lookback_days: z.number().int().min(1).max(30).default(7),
    view_lookback_hours: z.number().int().min(1).max(168).default(24),
    enabled: z.boolean().default(true),
  })
  .strict();
export type LinkInput = z.infer<typeof LinkInput>;

/** The SKAN campaign of a link: that of the campaign-name mapping of its app and network with its network campaign id (latest first). */
export function linkCampaign(link: Pick<LinkRow, 'adNetworkId' | 'appId' | 'networkCampaignId'>, settings: Settings): string | null {
  const mappings = settings.campaignsByNetworkApp.get(campaignKey(link.adNetworkId, link.appId)) ?? [];
  const match = mappings.filter((m) => m.networkCampaignId === link.networkCampaignId).sort((a, b) => b.id - a.id)[0];
  return match ? campaignOf({ sourceIdentifier: match.sourceIdentifier, campaignId: null }) : null;
}

export type Subs = Partial<Record<'sub1' | 'sub2' | 'sub3' | 'sub4' | 'sub5', string | null>>;

/** A link's URL with the click's values: each macro URL-encoded, absent ones empty. */
export function renderLinkUrl(template: string, link: LinkRow, campaignName: string | null, click: { clickId: string; at: Date; subs: Subs }): string {
  const values: Partial<Record<LinkMacro, string | number | null>> = {
    click_id: click.clickId,
    network_campaign_id: link.networkCampaignId,
    // The SKAN campaign's name when the network campaign maps to one, else the link's.
    campaign_name: campaignName ?? link.name,
    app_id: link.appId,
    link_id: link.id,
    timestamp: Math.floor(click.at.getTime() / 1000),
    ...click.subs,
  };
  return template.replace(MACRO, (_, name: string) => {
    const value = values[name as LinkMacro];
    return value === null || value === undefined ? '' : encodeURIComponent(String(value));
  });
}

const DAY = 86_400_000;

/** The click row for the log: kept until its lookback plus 30 days. */
export function clickRow(link: LinkRow, clickId: string, touch: Touch, at: Date, subs: Subs, imported: boolean): NewClick {
  const lookback = touch === 'click' ? link.clickLookbackDays * DAY : link.viewLookbackHours * 3_600_000;
  return {
    clickId,
    linkId: link.id,
    appId: link.appId,
    touch,
    clickedAt: at,
    expiresAt: new Date(at.getTime() + lookback + 30 * DAY),
    imported,
    sub1: subs.sub1 ?? null,
    sub2: subs.sub2 ?? null,
    sub3: subs.sub3 ?? null,
    sub4: subs.sub4 ?? null,
    sub5: subs.sub5 ?? null,
  };
}

/** The columns a link input is saved as. */
function linkColumns(input: LinkInput): LinkColumns {
  return {
    name: input.name,
    appId: input.app_id,
    adNetworkId: input.ad_network_id,
    networkCampaignId: input.network_campaign_id,
    mmpPartnerId: input.mmp_partner_id,
    targetUrl: input.target_url,
    impressionUrl: input.impression_url ?? null,
    clickLookbackDays: input.click_lookback_days,
    viewLookbackHours: input.view_lookback_hours,
    enabled: input.enabled,
  };
}

const asInput = (row: LinkRow): LinkInput => ({
  name: row.name,
  app_id: row.appId,
  ad_network_id: row.adNetworkId,
  network_campaign_id: row.networkCampaignId,
  mmp_partner_id: row.mmpPartnerId,
  target_url: row.targetUrl,
  impression_url: row.impressionUrl,
  click_lookback_days: row.clickLookbackDays,
  view_lookback_hours: row.viewLookbackHours,
  enabled: row.enabled,
});

async function checkPartner(tx: Unit, input: LinkInput): Promise<void> {
  if (!(await getPartner(tx.db, input.mmp_partner_id))) throw new FieldError('mmp_partner_id', `no MMP partner ${input.mmp_partner_id}: create it first (POST /v1/mmp-partners)`);
}

export async function createLink(tx: Unit, input: LinkInput, now: Date): Promise<LinkRow> {
  await checkPartner(tx, input);
  return insertLink(tx, linkColumns(input), now);
}

/** Applies a partial change; the result is checked as a new link is. `allowed` may refuse the result (a key's scope). */
export async function updateLink(tx: Unit, current: LinkRow, patch: Record<string, unknown>, now: Date, allowed: (input: LinkInput) => void): Promise<LinkRow | undefined> {
  const merged = LinkInput.safeParse({ ...asInput(current), ...patch });
  if (!merged.success) {
    const issue = merged.error.issues[0]!;
    throw new FieldError(issue.path.join('.') || '(body)', issue.message);
  }
  allowed(merged.data);
  await checkPartner(tx, merged.data);
  return replaceLink(tx, current.id, linkColumns(merged.data), now);
}

/** A link as the API shows it, with the URLs to put in ads. */
export function publicLink(row: LinkRow, origin: string) {
  return {
    id: row.id,
    ...asInput(row),
    click_url: `${origin}/c/${row.id}`,
    impression_pixel_url: `${origin}/i/${row.id}`,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}
