// The campaign a postback belongs to, from Apple's hierarchical source identifier (docs/postbacks.md, "Conversion windows and timing").

/**
 * SKAN 4 / AAK: the last two digits of `source-identifier` (`5239`, `239`, `39` → `"39"`; Apple's
 * low tiers keep the last digits). SKAN ≤ 3: `campaign-id` padded to two digits (`7` → `"07"`).
 */
export function campaignOf(fields: { sourceIdentifier: string | null; campaignId: number | null }): string | null {
  if (fields.sourceIdentifier !== null) return /^\d{2,4}$/.test(fields.sourceIdentifier) ? fields.sourceIdentifier.slice(-2) : null;
  if (fields.campaignId !== null) return String(fields.campaignId).padStart(2, '0');
  return null;
}
