// One MMP postback from a partner's request to a stored row: the fields its mapping names, the
// click it claims (checked by signature at the edge, or by lookup for imported clicks), the outcome
// the table in docs/mmp.md gives, and what it adds to the aggregates, all in one write unit.
import { acceptedInstall, findClick, findMmpByDedupeKey } from '../db/mmp.js';
import type { LinkRow, MmpPartnerRow } from '../db/schema.js';
import type { Settings } from '../db/settings-snapshot.js';
import type { MmpCounts, Unit, UnsavedMmpPostback } from '../db/store.js';
import { mmpDestinationsFor } from '../forward/route.js';
import { sha256Hex } from '../hash.js';
import { bucketOf } from '../rollup/contribution.js';
import { looksMinted, readClickId, type Touch } from './click-id.js';
import { type FieldProblem, MMP_FIELDS, type MmpFields, readFields } from './fields.js';
import { linkCampaign } from './links.js';
import { paramName } from './presets.js';

/** Why a postback's click does not stand: answered 422 with this reason, kept as `rejected`. */
export const CLICK_REJECTIONS = ['forged_click', 'unknown_click', 'expired_click', 'app_mismatch', 'click_after_install'] as const;
type ClickRejection = (typeof CLICK_REJECTIONS)[number];

type MmpOutcome = 'accepted' | 'unattributed' | 'fraud_rejected' | 'rejected';

export interface ReadMmpPostback {
  fields: MmpFields;
  /** The mapped parameters as sent, under the partner's own names: what is stored, and relayed as `raw`. */
  raw: Record<string, string>;
}

/** The partner's parameters from a request, by its mapping; nothing else is kept. */
export function readMmpPostback(partner: MmpPartnerRow, params: Record<string, string>): { ok: true; postback: ReadMmpPostback } | { ok: false; problems: FieldProblem[] } {
  const named: Partial<Record<(typeof MMP_FIELDS)[number], string>> = {};
  const raw: Record<string, string> = {};
  for (const field of MMP_FIELDS) {
    const name = paramName(partner.params, field);
    const value = params[name];
    if (value === undefined) continue;
    named[field] = value;
    raw[name] = value;
  }
  const { fields, problems } = readFields(named, { timestampFormat: partner.timestampFormat, revenueUnit: partner.revenueUnit });
  return problems.length ? { ok: false, problems } : { ok: true, postback: { fields, raw } };
}

export interface MmpSaveResult {
  id: number;
  outcome: MmpOutcome | 'duplicate';
  reasons: string[];
  rejection?: ClickRejection;
}

/** A click as the postback's checks see it. */
interface ValidClick {
  link: LinkRow;
  touch: Touch;
  at: Date;
  subs: Pick<UnsavedMmpPostback, 'sub1' | 'sub2' | 'sub3' | 'sub4' | 'sub5'>;
}

const NO_SUBS = { sub1: null, sub2: null, sub3: null, sub4: null, sub5: null };
const subsOf = (row: ValidClick['subs']): ValidClick['subs'] => ({ sub1: row.sub1, sub2: row.sub2, sub3: row.sub3, sub4: row.sub4, sub5: row.sub5 });
const HOUR = 3_600_000;

/** The click a click ID names: by its signature, else (imported clicks) by lookup. */
async function findValidClick(tx: Unit, settings: Settings, clickId: string, secrets: readonly string[]): Promise<ValidClick | ClickRejection> {
  const claim = readClickId(clickId, secrets);
  // The stored click brings its sub values when it is there; validation never waits for it.
  const stored = await findClick(tx.db, clickId);
  if (claim) {
    const link = settings.links.get(claim.linkId);
    if (!link) return 'unknown_click';
    return { link, touch: claim.touch, at: claim.at, subs: stored ? subsOf(stored) : NO_SUBS };
  }
  if (looksMinted(clickId) && !stored) return 'forged_click';
  if (!stored) return 'unknown_click';
  const link = settings.links.get(stored.linkId);
  if (!link) return 'unknown_click';
  return { link, touch: stored.touch, at: stored.clickedAt, subs: subsOf(stored) };
}

/**
 * The app an MMP postback is kept under, known before anything is stored (it picks the shard that
 * keeps it): the app it names; else its click's link's, by the click ID's signature; else that of
 * the stored click (imported clicks carry no signature). A postback kept with an app is always
 * kept under this one (an accepted click's app is the one named, when one is); null when none says.
 */
export async function mmpAppOf(
  read: ReadMmpPostback,
  settings: () => Promise<Settings>,
  secrets: readonly string[],
  storedClickApp: (clickId: string) => Promise<number | undefined>,
): Promise<number | null> {
  const { clickId, appId } = read.fields;
  if (appId !== null) return appId;
  if (!clickId) return null;
  const claim = readClickId(clickId, secrets);
  // The settings only when the link decides (the write's own read then costs one revision check).
  if (claim) return (await settings()).links.get(claim.linkId)?.appId ?? null;
  return (await storedClickApp(clickId)) ?? null;
}

/** Parameters without an event id are told apart by all of them: a resend is then a duplicate. */
function dedupeKeyOf(partnerId: number, read: ReadMmpPostback): string {
  const { clickId, eventName, eventId } = read.fields;
  const identity = eventId ?? `params:${sha256Hex(JSON.stringify(Object.entries(read.raw).sort(([a], [b]) => (a < b ? -1 : 1))))}`;
  return JSON.stringify([partnerId, clickId ?? '', eventName, identity]);
}

const ctitBucket = (seconds: number) => (seconds < 10 ? 'ctitUnder10s' : seconds < 60 ? 'ctit10s1m' : seconds < 3600 ? 'ctit1m1h' : seconds < 86_400 ? 'ctit1h24h' : 'ctitOver24h');

export async function saveMmpPostback(tx: Unit, partner: MmpPartnerRow, read: ReadMmpPostback, receivedAt: Date, secrets: readonly string[]): Promise<MmpSaveResult> {
  const { fields } = read;
  const dedupeKey = dedupeKeyOf(partner.id, read);
  const first = await findMmpByDedupeKey(tx.db, dedupeKey);
  if (first) return { id: first.id, outcome: 'duplicate', reasons: [] };

  const settings = await tx.settings();
  const install = fields.eventName === 'install';
  const installTime = fields.installTime ?? (install ? fields.eventTime : null) ?? receivedAt;
  const eventTime = fields.eventTime ?? (install ? installTime : receivedAt);
  const reasons: string[] = [];
  let outcome: MmpOutcome;
  let rejection: ClickRejection | undefined;
  let click: ValidClick | undefined;
  let ctitSeconds: number | null = null;

  if (!fields.attributed) {
    outcome = 'unattributed';
  } else if (fields.rejected) {
    outcome = 'fraud_rejected';
    reasons.push(`rejected by the MMP${fields.rejectReason ? `: ${fields.rejectReason}` : ''}`);
  } else {
    // An event of an install already accepted stands, whatever its age.
    const installed = install ? undefined : await acceptedInstall(tx.db, partner.id, fields.clickId!);
    const found = installed?.linkId ? settings.links.get(installed.linkId) : undefined;
    if (installed && found) {
      click = { link: found, touch: installed.touchType ?? 'click', at: installed.clickTime ?? installed.eventTime, subs: subsOf(installed) };
      outcome = 'accepted';
    } else {
      const checked = await findValidClick(tx, settings, fields.clickId!, secrets);
      if (typeof checked === 'string') rejection = checked;
      else if (checked.at.getTime() > installTime.getTime()) rejection = 'click_after_install';
      else if (installTime.getTime() - checked.at.getTime() > (checked.touch === 'click' ? checked.link.clickLookbackDays * 24 : checked.link.viewLookbackHours) * HOUR)
        rejection = 'expired_click';
      else if (fields.appId !== null && fields.appId !== checked.link.appId) rejection = 'app_mismatch';
      if (rejection || typeof checked === 'string') {
        outcome = 'rejected';
        reasons.push(`click_id: ${rejection?.replace(/_/g, ' ')}`);
      } else {
        outcome = 'accepted';
        click = checked;
        if (install) ctitSeconds = Math.floor((installTime.getTime() - checked.at.getTime()) / 1000);
      }
    }
  }

  const campaign = click ? linkCampaign(click.link, settings) : null;
  const subs = click?.subs ?? NO_SUBS;
  // Every column named, no spread: Node 20's V8 builds a literal with a spread in its middle many
  // times slower (BENCHMARKS.md), and this runs for every MMP postback.
  const row: UnsavedMmpPostback = {
    partnerId: partner.id,
    receivedAt,
    outcome,
    reasons,
    dedupeKey,
    raw: JSON.stringify(read.raw),
    clickId: fields.clickId,
    linkId: click?.link.id ?? null,
    appId: click?.link.appId ?? fields.appId,
    adNetworkId: click?.link.adNetworkId ?? null,
    networkCampaignId: click?.link.networkCampaignId ?? null,
    campaign,
    sub1: subs.sub1 ?? null,
    sub2: subs.sub2 ?? null,
    sub3: subs.sub3 ?? null,
    sub4: subs.sub4 ?? null,
    sub5: subs.sub5 ?? null,
    eventName: fields.eventName,
    eventId: fields.eventId,
    eventValue: fields.eventValue,
    revenue: fields.revenue,
    currency: fields.currency,
    eventTime,
    installTime: install || fields.installTime ? installTime : null,
    clickTime: click?.at ?? null,
    touchType: click?.touch ?? fields.touchType,
    isReattribution: fields.isReattribution,
    attributed: fields.attributed,
    rejected: fields.rejected,
    rejectReason: fields.rejectReason,
    countryCode: fields.countryCode,
    os: fields.os,
    ctitSeconds,
  };
  const id = await tx.insertMmpCounted(row, mmpCountsOf(row), mmpDestinationsFor(row, settings.destinations));
  if (id === undefined) {
    // A resend racing in: the copy that won holds the key.
    const winner = await findMmpByDedupeKey(tx.db, dedupeKey);
    return { id: winner!.id, outcome: 'duplicate', reasons: [] };
  }
  return { id, outcome, reasons, ...(rejection ? { rejection } : {}) };
}

/** What one stored MMP postback adds to the MMP aggregates. */
export function mmpCountsOf(row: UnsavedMmpPostback): MmpCounts {
  const accepted = row.outcome === 'accepted';
  const install = row.eventName === 'install';
  const counts: MmpCounts = {
    appId: row.appId ?? -1,
    arrivalBucket: bucketOf(row.receivedAt),
    eventBucket: bucketOf(row.eventTime),
    clickBucket: bucketOf(row.clickTime ?? row.eventTime),
    adNetworkId: row.adNetworkId ?? '',
    linkId: row.linkId ?? -1,
    networkCampaignId: row.networkCampaignId ?? '',
    campaign: row.campaign ?? '',
    mmpPartnerId: row.partnerId,
    event: row.eventName,
    touchType: row.touchType ?? '',
    countryCode: row.countryCode ?? '',
    sub1: row.sub1 ?? '',
    currency: row.currency ?? '',
    clicks: 0,
    impressions: 0,
    installs: Number(accepted && install && !row.isReattribution),
    reattributions: Number(accepted && install && row.isReattribution),
    events: Number(accepted && !install),
    revenueCents: accepted && row.revenue !== null ? Math.round(row.revenue * 100) : 0,
    unattributed: Number(row.outcome === 'unattributed'),
    fraudRejected: Number(row.outcome === 'fraud_rejected'),
    rejected: Number(row.outcome === 'rejected'),
    ctitUnder10s: 0,
    ctit10s1m: 0,
    ctit1m1h: 0,
    ctit1h24h: 0,
    ctitOver24h: 0,
  };
  if (accepted && install && row.ctitSeconds !== null) counts[ctitBucket(row.ctitSeconds)] = 1;
  return counts;
}
