// Bytes to a keepable postback object, or the list of problems that make it a 400.
import { describeValue, expectedType, SkanIdentity } from './fields.js';
import { isJsonObject, JsonNumber, type JsonObject, JsonSyntaxError, type JsonValue, parseStrictJson } from './json.js';
import type { Problem, Protocol } from './types.js';

/** Apple's postbacks are well under 2 KiB; relayed copies with enrichment keys stay far below this. */
export const MAX_POSTBACK_BYTES = 16 * 1024;

export interface ReadPostback {
  protocol: Protocol;
  /** The body as stored: the received text, less a leading byte-order mark. */
  text: string;
  bomDropped: boolean;
  body: JsonObject;
}

export type ReadResult = { ok: true; postback: ReadPostback } | { ok: false; problems: Problem[] };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BASE64URL_PART = /^[A-Za-z0-9_-]+$/;

// Integer fields Apple signs in some SKAN version: a fraction or exponent there can only be a
// forgery or a broken relay, and the body is refused (unsigned ones are dropped instead).
const SIGNED_SKAN_INTEGERS = ['campaign-id', 'app-id', 'source-app-id', 'fidelity-type', 'postback-sequence-index'];

const fail = (field: string, reason: string): ReadResult => ({ ok: false, problems: [{ field, reason }] });

export function readPostback(bytes: Uint8Array): ReadResult {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return fail('body', 'not valid UTF-8');
  }
  const bomDropped = text.charCodeAt(0) === 0xfeff;
  if (bomDropped) text = text.slice(1);

  let body: JsonValue;
  try {
    body = parseStrictJson(text);
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    if (error.duplicateKey !== undefined) return fail(error.duplicateKey, 'duplicated key');
    return fail('body', `not JSON: ${error.message}`);
  }
  if (!isJsonObject(body)) return fail('body', 'not a JSON object');

  const problems: Problem[] = [];
  let protocol: Protocol;
  if ('jws-string' in body) {
    protocol = 'aak';
    const jws = body['jws-string'];
    const parts = typeof jws === 'string' ? jws.split('.') : [];
    if (parts.length !== 3 || !parts.every((p) => BASE64URL_PART.test(p))) {
      problems.push({ field: 'jws-string', reason: `expected a compact JWS of three base64url parts, got ${describeValue(jws)}` });
    }
  } else {
    protocol = 'skan';
    for (const [field, schema] of Object.entries(SkanIdentity.shape)) {
      if (!schema.safeParse(body[field]).success) {
        problems.push({ field, reason: `expected ${expectedType(schema)}, got ${describeValue(body[field])}` });
      }
    }
    for (const field of SIGNED_SKAN_INTEGERS) {
      const value = body[field];
      if (value instanceof JsonNumber && value.kind === 'fraction') {
        problems.push({ field, reason: `expected a plain integer (no fraction, no exponent), got ${value.lexeme}` });
      }
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, postback: { protocol, text, bomDropped, body } };
}
