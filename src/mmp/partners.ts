// MMP partners: what may be saved, their secret tokens (shown once, kept as SHA-256, the old one
// valid a day after a rotation), and who may post as them.
import { z } from 'zod';
import { deletePartner, insertPartner, linksUsingPartner, type PartnerColumns, updatePartner } from '../db/mmp.js';
import type { MmpPartnerRow } from '../db/schema.js';
import type { Unit } from '../db/store.js';
import { base64url, sha256Hex } from '../hash.js';
import { parseCidrList } from '../model/cidr.js';
import { FieldError, InUseError } from '../model/field-error.js';
import { MMP_FIELDS, TIMESTAMP_FORMATS } from './fields.js';
import { PRESET_FACTS, PRESETS, postbackUrlTemplates } from './presets.js';

/** After a rotation the old token keeps working this long, so the MMP can be updated without losing postbacks. */
const TOKEN_OVERLAP_MS = 24 * 3_600_000;

export const PartnerInput = z
  .object({
    name: z.string().min(1).max(200),
    preset: z.enum(PRESETS),
    params: z
      .partialRecord(z.enum(MMP_FIELDS), z.string().regex(/^[A-Za-z0-9_.~-]{1,64}$/, 'a query or body parameter name'))
      .optional()
      .describe('custom only: skanpost field → the parameter the MMP sends it in'),
    allowlist: z
      .union([z.literal('preset'), z.array(z.string().max(64)).min(1).max(100)])
      .nullish()
      .superRefine((value, ctx) => {
        if (!Array.isArray(value)) return;
        const bad = parseCidrList(value.join(',')).bad;
        if (bad) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(bad)} is not an address or CIDR range` });
      }),
    timestamp_format: z.enum(TIMESTAMP_FORMATS).nullish(),
    revenue_unit: z.enum(['units', 'cents']).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.params && p.preset !== 'custom') ctx.addIssue({ code: 'custom', path: ['params'], message: 'a preset fixes the parameter names; params are for preset "custom"' });
    if (p.allowlist === 'preset' && (p.preset === 'custom' || PRESET_FACTS[p.preset].ranges.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['allowlist'], message: `${p.preset} publishes no address ranges skanpost knows: list CIDRs instead` });
    }
  });
export type PartnerInput = z.infer<typeof PartnerInput>;

/** The columns a saved partner holds for an input (without its token). */
function partnerColumns(input: PartnerInput): Omit<PartnerColumns, 'tokenSha256' | 'previousTokenSha256' | 'previousTokenUntil'> {
  const facts = input.preset === 'custom' ? undefined : PRESET_FACTS[input.preset];
  return {
    name: input.name,
    preset: input.preset,
    params: input.preset === 'custom' ? (input.params ?? {}) : {},
    allowlist: input.allowlist ?? null,
    timestampFormat: input.timestamp_format !== undefined ? input.timestamp_format : (facts?.timestampFormat ?? null),
    revenueUnit: input.revenue_unit ?? facts?.revenueUnit ?? 'units',
  };
}

function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `mmp_${base64url(bytes)}`;
}

/** Whether `token` is the partner's, or its previous one within a day of the rotation; in constant time. */
export function tokenMatches(partner: MmpPartnerRow, token: string | undefined, now: Date): boolean {
  if (!token) return false;
  const given = sha256Hex(token);
  const same = (stored: string) => {
    let diff = 0;
    for (let i = 0; i < stored.length; i++) diff |= stored.charCodeAt(i) ^ given.charCodeAt(i);
    return diff === 0;
  };
  return (
    same(partner.tokenSha256) ||
    (partner.previousTokenSha256 !== null && partner.previousTokenUntil !== null && now < partner.previousTokenUntil && same(partner.previousTokenSha256))
  );
}

/** The ranges a partner may post from: its own list, its MMP's published ones, or everyone (empty). */
export function partnerRanges(partner: MmpPartnerRow): readonly string[] {
  if (partner.allowlist === 'preset') return partner.preset === 'custom' ? [] : PRESET_FACTS[partner.preset].ranges;
  return partner.allowlist ?? [];
}

/** What a client sees of a partner: never a token; the templates with the token when it has just been made. */
export function publicPartner(partner: MmpPartnerRow, origin: string, token?: string) {
  return {
    id: partner.id,
    name: partner.name,
    preset: partner.preset,
    params: partner.params,
    allowlist: partner.allowlist,
    timestamp_format: partner.timestampFormat,
    revenue_unit: partner.revenueUnit,
    ...(token ? { token } : {}),
    // Without the token in hand (it is kept only as a hash), the templates say where it goes.
    postback_url_templates: postbackUrlTemplates(partner, origin, token ?? 'TOKEN'),
    previous_token_valid_until: partner.previousTokenUntil?.toISOString() ?? null,
    created_at: partner.createdAt.toISOString(),
    updated_at: partner.updatedAt.toISOString(),
  };
}

/** Saves a partner with a new token; the token is returned once and kept only as its hash. */
export async function createPartner(tx: Unit, input: PartnerInput, now: Date): Promise<{ partner: MmpPartnerRow; token: string }> {
  const token = newToken();
  const partner = await insertPartner(tx, { ...partnerColumns(input), tokenSha256: sha256Hex(token), previousTokenSha256: null, previousTokenUntil: null }, now);
  return { partner, token };
}

const asInput = (row: MmpPartnerRow): PartnerInput => ({
  name: row.name,
  preset: row.preset,
  ...(row.preset === 'custom' ? { params: row.params } : {}),
  allowlist: row.allowlist,
  timestamp_format: row.timestampFormat,
  revenue_unit: row.revenueUnit,
});

/** A partial change (the token stays); the result is checked as a new partner is. */
export async function changePartner(tx: Unit, current: MmpPartnerRow, patch: Record<string, unknown>, now: Date): Promise<MmpPartnerRow | undefined> {
  const base = asInput(current);
  // A new preset brings its own facts unless the patch names them.
  if (patch.preset !== undefined && patch.preset !== current.preset) {
    delete base.timestamp_format;
    delete base.revenue_unit;
    delete base.params;
    if (base.allowlist === 'preset') base.allowlist = null;
  }
  const merged = PartnerInput.safeParse({ ...base, ...patch });
  if (!merged.success) {
    const issue = merged.error.issues[0]!;
    throw new FieldError(issue.path.join('.') || '(body)', issue.message);
  }
  return updatePartner(tx, current.id, partnerColumns(merged.data), now);
}

/** A new token; the current one keeps working for TOKEN_OVERLAP_MS. */
export async function rotateToken(tx: Unit, current: MmpPartnerRow, now: Date): Promise<{ partner: MmpPartnerRow; token: string } | undefined> {
  const token = newToken();
  const partner = await updatePartner(
    tx,
    current.id,
    { tokenSha256: sha256Hex(token), previousTokenSha256: current.tokenSha256, previousTokenUntil: new Date(now.getTime() + TOKEN_OVERLAP_MS) },
    now,
  );
  return partner && { partner, token };
}

/** Removes a partner no link names (its postbacks stay, for reports and audits). */
export async function removePartner(tx: Unit, id: number): Promise<boolean> {
  const used = await linksUsingPartner(tx.db, id);
  if (used.length) throw new InUseError(`links ${used.join(', ')} name MMP partner ${id}: point them at another partner or delete them first`);
  return deletePartner(tx, id);
}
