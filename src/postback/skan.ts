// SKAdNetwork: the signed-message recipe of each version (docs/postbacks.md, "Signature recipes") and the verdict it gives.

import type { EcdsaVerifier } from './ecdsa.js';
import { describeValue, expectedType, skanSignedFields } from './fields.js';
import type { JsonObject, JsonValue } from './json.js';
import { base64ToBytes, type Curve, type KeyRing, type SkanKey } from './keys.js';
import { emptyFields, type Inspection, type PostbackFields, setColumn } from './types.js';
import { readUnsigned } from './unsigned.js';

type SignedField = keyof typeof skanSignedFields;

/** One position in the message: a field, or an optional group of which at most one is sent. */
interface Slot {
  names: readonly SignedField[];
  optional: boolean;
}

interface Recipe {
  curve: Curve;
  slots: readonly Slot[];
}

const req = (name: SignedField): Slot => ({ names: [name], optional: false });
const opt = (...names: SignedField[]): Slot => ({ names, optional: true });

const V1 = [req('ad-network-id'), req('campaign-id'), req('app-id'), req('transaction-id')];
const V2 = [req('version'), ...V1, req('redownload'), opt('source-app-id')];
const V22 = [...V2, req('fidelity-type')];
const V3 = [...V22, req('did-win')];
const V4 = [
  req('version'),
  req('ad-network-id'),
  req('source-identifier'),
  req('app-id'),
  req('transaction-id'),
  req('redownload'),
  opt('source-app-id', 'source-domain'),
  req('fidelity-type'),
  req('did-win'),
  req('postback-sequence-index'),
];

const SKAN_RECIPES: Readonly<Record<string, Recipe>> = {
  '1.0': { curve: 'P-192', slots: V1 },
  '2.0': { curve: 'P-192', slots: V2 },
  '2.1': { curve: 'P-256', slots: V2 },
  '2.2': { curve: 'P-256', slots: V22 },
  '3.0': { curve: 'P-256', slots: V3 },
  '4.0': { curve: 'P-256', slots: V4 },
};

const SEPARATOR = '\u2063';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const encoder = new TextEncoder();

const render = (value: JsonValue) => String(value); // strings as received; integers and booleans as JSON writes them

// Where each signed field lands; `version` is reported on its own.
const COLUMNS: Record<SignedField, keyof PostbackFields | null> = {
  version: null,
  'ad-network-id': 'adNetworkId',
  'campaign-id': 'campaignId',
  'source-identifier': 'sourceIdentifier',
  'app-id': 'appId',
  'transaction-id': 'transactionId',
  redownload: 'redownload',
  'source-app-id': 'sourceAppId',
  'source-domain': 'sourceDomain',
  'fidelity-type': 'fidelityType',
  'did-win': 'didWin',
  'postback-sequence-index': 'postbackSequenceIndex',
};

const setField = (fields: PostbackFields, name: SignedField, value: JsonValue) => setColumn(fields, COLUMNS[name], value);

/**
 * Builds the signed message of `recipe` from `body`, filling `fields` with every signed value of
 * the right type. Returns the message, or undefined when a signed field is missing or mistyped.
 */
function signedMessage(body: JsonObject, recipe: Recipe, fields: PostbackFields, reasons: string[]): string | undefined {
  const values: string[] = [];
  let complete = true;
  for (const slot of recipe.slots) {
    const present = slot.names.filter((name) => name in body);
    if (present.length === 0) {
      if (!slot.optional) {
        reasons.push(`${slot.names[0]}: signed field missing`);
        complete = false;
      }
      continue;
    }
    if (present.length > 1) {
      reasons.push(`${present.join(', ')}: only one of these may be sent`);
      complete = false;
    }
    const name = present[0]!;
    const value = body[name]!;
    const schema = skanSignedFields[name];
    if (!schema.safeParse(value).success) {
      reasons.push(`${name}: signed field must be ${expectedType(schema)}, got ${describeValue(value)}`);
      complete = false;
      continue;
    }
    setField(fields, name, value);
    values.push(render(value));
  }
  return complete ? values.join(SEPARATOR) : undefined;
}

function decodeSignature(text: string): Uint8Array<ArrayBuffer> | undefined {
  return BASE64.test(text) ? base64ToBytes(text) : undefined;
}

// Nearly every postback a deployment receives is signed with one key (Apple's, or in a load test
// the operator's): trying the key that verified last first saves a failed verification each. The
// order is kept per ring and curve and changes only when another key verifies, so a postback
// allocates nothing here.
const keyOrder = new WeakMap<KeyRing, Partial<Record<Curve, readonly SkanKey[]>>>();

function candidates(keys: KeyRing, curve: Curve): readonly SkanKey[] {
  let byCurve = keyOrder.get(keys);
  if (!byCurve) {
    byCurve = {};
    keyOrder.set(keys, byCurve);
  }
  let order = byCurve[curve];
  if (!order) {
    order = keys.skan.filter((k) => k.curve === curve);
    byCurve[curve] = order;
  }
  return order;
}

function verifiedWith(keys: KeyRing, key: SkanKey): void {
  const order = candidates(keys, key.curve);
  if (order[0] !== key) keyOrder.get(keys)![key.curve] = [key, ...order.filter((k) => k !== key)];
}

export async function inspectSkan(body: JsonObject, keys: KeyRing, verifier: EcdsaVerifier): Promise<Inspection> {
  const fields = emptyFields();
  const reasons: string[] = [];
  const rawVersion = body.version;
  const version = rawVersion === undefined ? '1.0' : typeof rawVersion === 'string' ? rawVersion : null;
  const result = (signature: Inspection['signature'], key: string | null, message: string | null): Inspection => {
    readUnsigned(body, ['conversion-value', 'coarse-conversion-value', 'country-code'], fields, reasons);
    return { protocol: 'skan', version, environment: 'production', signature, reasons, key, message, fields };
  };

  // The identity fields were checked by readPostback; they are recorded whatever the version.
  fields.adNetworkId = body['ad-network-id'] as string;
  fields.transactionId = body['transaction-id'] as string;

  if (version === null) {
    reasons.push(`version: signed field must be a non-empty string, got ${describeValue(rawVersion)}`);
    return result('invalid', null, null);
  }
  const recipe = SKAN_RECIPES[version];
  if (!recipe) {
    // Keep what type-checks so the row is useful now and `reverify` can finish the job later.
    for (const name of Object.keys(skanSignedFields) as SignedField[]) {
      if (name in body && skanSignedFields[name].safeParse(body[name]).success) setField(fields, name, body[name]!);
    }
    reasons.push(`version: no signature recipe is known for version ${JSON.stringify(version)}`);
    return result('unverifiable', null, null);
  }

  const message = signedMessage(body, recipe, fields, reasons);
  if (message === undefined) return result('invalid', null, null);

  const signature = decodeSignature(body['attribution-signature'] as string);
  if (!signature) {
    reasons.push('attribution-signature: not base64');
    return result('invalid', null, message);
  }
  const bytes = encoder.encode(message) as Uint8Array<ArrayBuffer>; // workers-types widen the buffer type
  for (const key of candidates(keys, recipe.curve)) {
    if (await verifier.verify(key, bytes, signature, 'der')) {
      verifiedWith(keys, key);
      return result('verified', key.id, message);
    }
  }
  reasons.push(`attribution-signature: does not verify with any trusted ${recipe.curve} key for version ${version}`);
  return result('invalid', null, message);
}
