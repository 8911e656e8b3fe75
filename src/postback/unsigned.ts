// Unsigned values (conversion values, country, interaction type): kept when they pass their
// checks, otherwise dropped and named in the reasons. They never decide whether a body is kept.
import { describeValue, type UnsignedField, unsignedFields } from './fields.js';
import type { JsonObject } from './json.js';
import type { PostbackFields } from './types.js';

const EXPECTED: Record<UnsignedField, string> = {
  'conversion-value': 'an integer from 0 to 63',
  'coarse-conversion-value': '"low", "medium" or "high"',
  'country-code': 'two ISO 3166 letters',
  'ad-interaction-type': '"view" or "click"',
};

export function readUnsigned(body: JsonObject, names: readonly UnsignedField[], fields: PostbackFields, reasons: string[]): void {
  const valid = <T>(name: UnsignedField, parse: (value: unknown) => { success: boolean; data?: T }): T | null => {
    if (!names.includes(name) || !(name in body)) return null;
    const parsed = parse(body[name]);
    if (parsed.success) return parsed.data as T;
    reasons.push(`${name}: expected ${EXPECTED[name]}, got ${describeValue(body[name])}; dropped`);
    return null;
  };
  fields.conversionValue = valid('conversion-value', (v) => unsignedFields['conversion-value'].safeParse(v));
  fields.coarseConversionValue = valid('coarse-conversion-value', (v) => unsignedFields['coarse-conversion-value'].safeParse(v));
  fields.countryCode = valid('country-code', (v) => unsignedFields['country-code'].safeParse(v))?.toUpperCase() ?? null;
  fields.adInteractionType = valid('ad-interaction-type', (v) => unsignedFields['ad-interaction-type'].safeParse(v));
  // Apple sends a fine value only in the first window, and never both kinds at once.
  if (fields.conversionValue !== null && (fields.postbackSequenceIndex ?? 0) > 0) {
    reasons.push(`conversion-value: a fine value cannot come in postback-sequence-index ${fields.postbackSequenceIndex}; dropped`);
    fields.conversionValue = null;
  }
  if (fields.conversionValue !== null && fields.coarseConversionValue !== null) {
    reasons.push('coarse-conversion-value: sent together with conversion-value; dropped');
    fields.coarseConversionValue = null;
  }
}
