// Apple's postback fields as zod schemas: one source for validation and for the TypeScript types.
// zod/mini (the same validators, functions instead of methods) because these are all `skanpost
// verify` needs of zod, and full zod is 440 KB for the CLI to compile at every start.
import * as z from 'zod/mini';
import { JsonNumber, type JsonValue } from './json.js';

// The strict parser yields a JS number only for a plain, safe JSON integer, so `z.int()`
// already refuses `1.0`, `1e2` and out-of-range integers (they arrive as JsonNumber).
const integer = z.int();
const nonEmpty = () => z.string().check(z.minLength(1));

/** SKAdNetwork fields that Apple signs (in at least one version). */
export const skanSignedFields = {
  version: z.string(),
  'ad-network-id': nonEmpty(),
  'campaign-id': integer,
  'source-identifier': z.string(),
  'app-id': integer,
  'transaction-id': nonEmpty(),
  redownload: z.boolean(),
  'source-app-id': integer,
  'source-domain': z.string(),
  'fidelity-type': integer,
  'did-win': z.boolean(),
  'postback-sequence-index': integer,
} as const;

const coarseConversionValue = z.enum(['low', 'medium', 'high']);
export type CoarseConversionValue = z.infer<typeof coarseConversionValue>;

/** Values Apple leaves unsigned: a bad one is dropped, never a reason to refuse the body. */
export const unsignedFields = {
  'conversion-value': z.int().check(z.minimum(0), z.maximum(63)),
  'coarse-conversion-value': coarseConversionValue,
  'country-code': z.string().check(z.regex(/^[A-Za-z]{2}$/)),
  'ad-interaction-type': z.enum(['view', 'click']),
} as const;
export type UnsignedField = keyof typeof unsignedFields;

/** The fields skanpost needs to identify and keep a SKAN body at all; without them it is a 400. */
export const SkanIdentity = z.object({
  'ad-network-id': skanSignedFields['ad-network-id'],
  'transaction-id': skanSignedFields['transaction-id'],
  'attribution-signature': nonEmpty(),
});

const conversionType = z.enum(['download', 'redownload', 're-engagement']);

/** The signed payload of an AdAttributionKit JWS. */
export const aakPayloadFields = {
  'impression-type': z.string(),
  'ad-network-identifier': nonEmpty(),
  'source-identifier': z.string(),
  'advertised-item-identifier': integer,
  'conversion-type': conversionType,
  'postback-identifier': nonEmpty(),
  'did-win': z.boolean(),
  'postback-sequence-index': integer,
  'marketplace-identifier': z.string(),
  'publisher-item-identifier': integer,
} as const;
export const aakOptionalPayloadFields = new Set(['marketplace-identifier', 'publisher-item-identifier']);

export const JwsHeader = z.object({ kid: nonEmpty(), alg: nonEmpty() });

/** A short, log-safe description of what was found where something else was expected. */
export function describeValue(value: JsonValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (value instanceof JsonNumber) return `the number ${value.lexeme.slice(0, 24)}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `the ${typeof value} ${String(value)}`;
}

export function expectedType(schema: z.ZodMiniType): string {
  const def = schema._zod.def;
  if (def.type === 'number') return 'a plain integer';
  if (def.type === 'boolean') return 'a boolean';
  if (def.type === 'enum')
    return `one of ${Object.values((def as z.core.$ZodEnumDef).entries)
      .map((o) => JSON.stringify(o))
      .join(', ')}`;
  return 'a non-empty string';
}
