// Click IDs: what `/c/:id` and `/i/:id` hand the MMP, and what its postbacks must bring back. A
// click ID carries its link, its touch (click or impression) and its time, signed with a server
// secret (HMAC-SHA-256), so a postback's click is checked at the edge with no lookup: a forged,
// altered or truncated one fails the signature. URL-safe, 50 characters.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base64url } from '../hash.js';

export type Touch = 'click' | 'impression';

export interface ClickClaim {
  linkId: number;
  touch: Touch;
  /** Whole seconds. */
  at: Date;
}

const VERSION = 1;
// version 1 · touch 1 · link 6 · seconds 5 · nonce 8, then 16 bytes of the HMAC.
const PAYLOAD = 21;
const MAC = 16;
const encoder = new TextEncoder();

function fromBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function writeUint(bytes: Uint8Array, at: number, length: number, value: number): void {
  for (let i = length - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) bytes[at + i] = v % 256;
}

function readUint(bytes: Uint8Array, at: number, length: number): number {
  let value = 0;
  for (let i = 0; i < length; i++) value = value * 256 + bytes[at + i]!;
  return value;
}

// The keyed state of each secret, made once: a click then costs two SHA-256 blocks, not four.
const keyed = new Map<string, ReturnType<typeof hmac.create>>();
function mac(secret: string, payload: Uint8Array): Uint8Array {
  let state = keyed.get(secret);
  if (!state) {
    if (keyed.size > 16) keyed.clear();
    state = hmac.create(sha256, encoder.encode(secret));
    keyed.set(secret, state);
  }
  return state.clone().update(payload).digest().subarray(0, MAC);
}

// Random bytes drawn 4 KiB at a time: one getRandomValues call per click cost more than the HMAC.
const pool = new Uint8Array(4096);
let poolAt = pool.length;
function pooledRandom(bytes: Uint8Array): Uint8Array {
  if (poolAt + bytes.length > pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  bytes.set(pool.subarray(poolAt, poolAt + bytes.length));
  poolAt += bytes.length;
  return bytes;
}

/** Signs a click with the first secret (the one in force). */
export function mintClickId(claim: ClickClaim, secret: string, random: (bytes: Uint8Array) => Uint8Array = pooledRandom): string {
  if (!Number.isSafeInteger(claim.linkId) || claim.linkId < 0 || claim.linkId >= 2 ** 48) throw new RangeError('a link id fits in 48 bits');
  const payload = new Uint8Array(PAYLOAD);
  payload[0] = VERSION;
  payload[1] = claim.touch === 'impression' ? 1 : 0;
  writeUint(payload, 2, 6, claim.linkId);
  writeUint(payload, 8, 5, Math.floor(claim.at.getTime() / 1000));
  payload.set(random(new Uint8Array(8)), 13);
  const out = new Uint8Array(PAYLOAD + MAC);
  out.set(payload);
  out.set(mac(secret, payload), PAYLOAD);
  return base64url(out);
}

/** The click a click ID claims, if one of the secrets signed it; undefined for anything else. */
export function readClickId(clickId: string, secrets: readonly string[]): ClickClaim | undefined {
  const bytes = clickId.length === 50 ? fromBase64url(clickId) : undefined;
  if (bytes?.length !== PAYLOAD + MAC || bytes[0] !== VERSION || bytes[1]! > 1) return undefined;
  // The last character carries 4 unused bits: only the one spelling skanpost minted is accepted.
  if (base64url(bytes) !== clickId) return undefined;
  const payload = bytes.subarray(0, PAYLOAD);
  const given = bytes.subarray(PAYLOAD);
  const signed = secrets.some((secret) => {
    const expected = mac(secret, payload);
    let diff = 0;
    for (let i = 0; i < MAC; i++) diff |= expected[i]! ^ given[i]!;
    return diff === 0;
  });
  if (!signed) return undefined;
  return { linkId: readUint(bytes, 2, 6), touch: bytes[1] === 1 ? 'impression' : 'click', at: new Date(readUint(bytes, 8, 5) * 1000) };
}

/** Whether a string has the shape of skanpost's click IDs (so an unsigned one is forged, not foreign). */
export const looksMinted = (clickId: string) => clickId.length === 50 && /^[A-Za-z0-9_-]+$/.test(clickId) && clickId.startsWith('AQ');
