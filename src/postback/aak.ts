// AdAttributionKit: a compact ES256 JWS whose payload carries the signed fields (docs/postbacks.md, "AdAttributionKit").

import type { EcdsaVerifier } from './ecdsa.js';
import { aakOptionalPayloadFields, aakPayloadFields, describeValue, expectedType, JwsHeader } from './fields.js';
import { isJsonObject, type JsonObject, JsonSyntaxError, parseStrictJson } from './json.js';
import type { KeyRing } from './keys.js';
import { emptyFields, type Inspection, type PostbackFields, setColumn } from './types.js';
import { readUnsigned } from './unsigned.js';

type PayloadField = keyof typeof aakPayloadFields;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const encoder = new TextEncoder();

function base64UrlToBytes(part: string): Uint8Array<ArrayBuffer> {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Decodes one JWS part to a JSON object, or says why it is not one. */
function decodeJsonPart(part: string): JsonObject | string {
  try {
    const value = parseStrictJson(utf8.decode(base64UrlToBytes(part)));
    return isJsonObject(value) ? value : 'not a JSON object';
  } catch (error) {
    if (error instanceof JsonSyntaxError) return `not JSON (${error.message})`;
    return 'not base64url-encoded UTF-8';
  }
}

// Where each payload field lands, under the SKAN name it plays the role of (docs/postbacks.md).
const COLUMNS: Record<PayloadField, keyof PostbackFields> = {
  'ad-network-identifier': 'adNetworkId',
  'postback-identifier': 'transactionId',
  'source-identifier': 'sourceIdentifier',
  'advertised-item-identifier': 'appId',
  'publisher-item-identifier': 'sourceAppId',
  'conversion-type': 'conversionType',
  'did-win': 'didWin',
  'postback-sequence-index': 'postbackSequenceIndex',
  'impression-type': 'impressionType',
  'marketplace-identifier': 'marketplaceIdentifier',
};

/** Fills `fields` from the payload; true when every required field is there with its type. */
function readPayload(payload: JsonObject, fields: PostbackFields, reasons: string[]): boolean {
  let complete = true;
  for (const name of Object.keys(aakPayloadFields) as PayloadField[]) {
    if (!(name in payload)) {
      if (!aakOptionalPayloadFields.has(name)) {
        reasons.push(`jws-string: payload field ${name} missing`);
        complete = false;
      }
      continue;
    }
    const schema = aakPayloadFields[name];
    if (schema.safeParse(payload[name]).success) {
      setColumn(fields, COLUMNS[name], payload[name]!);
    } else {
      reasons.push(`jws-string: payload field ${name} must be ${expectedType(schema)}, got ${describeValue(payload[name])}`);
      complete = false;
    }
  }
  return complete;
}

export async function inspectAak(body: JsonObject, keys: KeyRing, verifier: EcdsaVerifier): Promise<Inspection> {
  const fields = emptyFields();
  const reasons: string[] = [];
  // readPostback guarantees three base64url parts.
  const [headerPart, payloadPart, signaturePart] = (body['jws-string'] as string).split('.') as [string, string, string];
  const signingInput = `${headerPart}.${payloadPart}`;

  const payload = decodeJsonPart(payloadPart);
  let payloadComplete = false;
  if (typeof payload === 'string') reasons.push(`jws-string: payload ${payload}`);
  else payloadComplete = readPayload(payload, fields, reasons);

  const header = decodeJsonPart(headerPart);
  const parsedHeader = typeof header === 'string' ? undefined : JwsHeader.safeParse(header);
  const kid = parsedHeader?.success ? parsedHeader.data.kid : null;
  const key = kid === null ? undefined : keys.aak.get(kid);
  fields.kid = kid;
  const environment = key?.environment ?? (kid?.startsWith('apple-development-identifier/') ? 'development' : 'production');

  const result = (signature: Inspection['signature'], keyId: string | null): Inspection => {
    readUnsigned(body, ['conversion-value', 'coarse-conversion-value', 'ad-interaction-type', 'country-code'], fields, reasons);
    // Apple maps AdAttributionKit's interaction onto SKAN's fidelity: a view is 0, a click 1.
    fields.fidelityType = fields.adInteractionType === null ? null : fields.adInteractionType === 'view' ? 0 : 1;
    return { protocol: 'aak', version: null, environment, signature, reasons, key: keyId, message: signingInput, fields };
  };

  if (typeof header === 'string') {
    reasons.push(`jws-string: header ${header}`);
    return result('invalid', null);
  }
  if (!parsedHeader?.success) {
    reasons.push(`jws-string: header must carry string kid and alg, got kid ${describeValue(header.kid)} and alg ${describeValue(header.alg)}`);
    return result('invalid', null);
  }
  const { alg } = parsedHeader.data;
  if (alg !== 'ES256') {
    reasons.push(`jws-string: alg ${JSON.stringify(alg)} is refused; only ES256 is accepted`);
    return result('invalid', null);
  }
  if (!key) {
    reasons.push(`jws-string: no trusted key has kid ${JSON.stringify(kid)}`);
    return result('unverifiable', null);
  }
  const signature = base64UrlToBytes(signaturePart);
  if (signature.length !== 64 || !(await verifier.verify(key, encoder.encode(signingInput) as Uint8Array<ArrayBuffer>, signature, 'p1363'))) {
    reasons.push(`jws-string: signature does not verify with the key of kid ${JSON.stringify(kid)}`);
    return result('invalid', null);
  }
  if (!payloadComplete) return result('invalid', key.kid);
  return result(key.environment === 'development' ? 'development' : 'verified', key.kid);
}
