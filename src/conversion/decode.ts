// Decoding a postback's conversion value with its app's schema, per window.

import { MAX_REVENUE, type SchemaEntry } from '../model/conversion-schema.js';
import type { Decode } from '../model/decode.js';
import type { CoarseConversionValue } from '../postback/fields.js';
import type { SchemaVersion } from './schema.js';

export interface DecodeInput {
  conversionValue: number | null;
  coarseConversionValue: CoarseConversionValue | null;
  window: number;
}

// Schemas saved before revenue was bounded may hold larger (even infinite) bounds: clamped here,
// so no sum built from them can overflow.
const micros = (amount: number) => Math.round(Math.min(Math.max(amount, 0), MAX_REVENUE) * 1_000_000);

function fromEntry(entry: SchemaEntry, schema: SchemaVersion): Decode {
  return {
    schemaVersion: schema.version,
    currency: schema.definition.currency,
    events: entry.events.map((e) => ({ name: e.name, min: e.min, max: e.max })),
    revenueMinMicros: micros(entry.revenue?.min ?? 0),
    revenueMaxMicros: micros(entry.revenue?.max ?? 0),
  };
}

/**
 * Undefined when there is nothing to decode: no value (absent stays absent, never 0), or a value
 * the schema does not map. A fine value wins over a coarse one; coarse values are per window.
 */
export function decodeConversion(input: DecodeInput, schema: SchemaVersion | undefined): Decode | undefined {
  if (!schema) return undefined;
  if (input.conversionValue !== null) {
    const range = schema.definition.fine.find((r) => r.from <= input.conversionValue! && input.conversionValue! <= r.to);
    return range ? fromEntry(range, schema) : undefined;
  }
  if (input.coarseConversionValue !== null) {
    const window = schema.definition.coarse[String(input.window) as '0' | '1' | '2'];
    const entry = window?.[input.coarseConversionValue];
    return entry ? fromEntry(entry, schema) : undefined;
  }
  return undefined;
}
