// AdAttributionKit: a compact ES256 JWS whose payload carries the signed fields (SPEC.md §6).
import { aakOptionalPayloadFields, aakPayloadFields, describeValue, expectedType, JwsHeader } from './fields.js';
import { isJsonObject, JsonSyntaxError, parseStrictJson, type JsonObject, type JsonValue } from './json.js';
import type { KeyRing } from './keys.js';
import type { EcdsaVerifier } from './ecdsa.js';
import { readUnsigned } from './unsigned.js';
import { emptyFields, type Inspection, type PostbackFields } from './types.js';

type PayloadField = keyof typeof aakPayloadFields;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export function base64UrlToBytes(part: string): Uint8Array<ArrayBuffer> {
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

function setField(fields: PostbackFields, name: PayloadField, value: JsonValue): void {
  switch (name) {
    case 'ad-network-identifier': fields.adNetworkId = value as string; break;
    case 'postback-identifier': fields.transactionId = value as string; break;
    case 'source-identifier': fields.sourceIdentifier = value as string; break;
    case 'advertised-item-identifier': fields.appId = value as number; break;
    case 'publisher-item-identifier': fields.sourceAppId = value as number; break;
    case 'conversion-type': fields.conversionType = value as PostbackFields['conversionType']; break;
    case 'did-win': fields.didWin = value as boolean; break;
    case 'postback-sequence-index': fields.postbackSequenceIndex = value as number; break;
    case 'impression-type': fields.impressionType = value as string; break;
    case 'marketplace-identifier': fields.marketplaceIdentifier = value as string; break;
  }
}

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
      setField(fields, name, payload[name]!);
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
  const payloadComplete = typeof payload === 'string' ? (reasons.push(`jws-string: payload ${payload}`), false) : readPayload(payload, fields, reasons);

  const header = decodeJsonPart(headerPart);
  const parsedHeader = typeof header === 'string' ? undefined : JwsHeader.safeParse(header);
  const kid = parsedHeader?.success ? parsedHeader.data.kid : null;
  const key = kid === null ? undefined : keys.aak.get(kid);
  fields.kid = kid;
  const environment = key?.environment ?? (kid?.startsWith('apple-development-identifier/') ? 'development' : 'production');

  const result = (signature: Inspection['signature'], keyId: string | null): Inspection => {
    readUnsigned(body, ['conversion-value', 'coarse-conversion-value', 'ad-interaction-type', 'country-code'], fields, reasons);
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
  if (signature.length !== 64 || !(await verifier.verify(key, encoder.encode(signingInput), signature, 'p1363'))) {
    reasons.push(`jws-string: signature does not verify with the key of kid ${JSON.stringify(kid)}`);
    return result('invalid', null);
  }
  if (!payloadComplete) return result('invalid', key.kid);
  return result(key.environment === 'development' ? 'development' : 'verified', key.kid);
}
