// Dashboard sessions: a cookie that names the API key signed in with (never the key itself), until
// when, and for the bootstrap admin key a fingerprint of it, signed with HMAC-SHA-256. The key is
// looked up on every request, so deleting it ends its sessions; changing SKANPOST_ADMIN_KEY ends
// the bootstrap key's. A CSRF token derived from the cookie guards every form that changes something.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base64url, sha256Hex } from '../../hash.js';

export const SESSION_COOKIE = 'skanpost_session';
export const SESSION_MS = 12 * 3_600_000;

export interface Session {
  /** The API key's id; 0 for the bootstrap key (SKANPOST_ADMIN_KEY). */
  keyId: number;
  expiresMs: number;
  /** For the bootstrap key: the fingerprint of the key signed in with. */
  admin: string;
}

const encoder = new TextEncoder();
const mac = (secret: string, message: string) => base64url(hmac(sha256, encoder.encode(secret), encoder.encode(message)));

/** Equal strings, compared in time that does not depend on where they differ. */
function same(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export const adminFingerprint = (adminKey: string) => sha256Hex(`skanpost-session:${adminKey}`).slice(0, 24);

export function signSession(secret: string, session: Session): string {
  const payload = `${session.keyId}.${session.expiresMs}.${session.admin}`;
  return `${payload}.${mac(secret, payload)}`;
}

/** The session a cookie holds, if one of `secrets` signed it and it has not expired. */
export function readSession(secrets: readonly string[], cookie: string | undefined, nowMs: number): Session | undefined {
  const match = /^(\d{1,15})\.(\d{1,15})\.([0-9a-f]{0,24})\.([A-Za-z0-9_-]{43})$/.exec(cookie ?? '');
  if (!match) return undefined;
  const payload = `${match[1]}.${match[2]}.${match[3]}`;
  if (!secrets.some((secret) => same(mac(secret, payload), match[4]!))) return undefined;
  const session = { keyId: Number(match[1]), expiresMs: Number(match[2]), admin: match[3]! };
  return session.expiresMs > nowMs ? session : undefined;
}

/** The token a form of this session carries: bound to the cookie, so another site cannot know it. */
export const csrfToken = (secret: string, cookie: string) => mac(secret, `csrf:${cookie}`);

export const csrfValid = (secrets: readonly string[], cookie: string, token: string | undefined) =>
  token !== undefined && secrets.some((secret) => same(csrfToken(secret, cookie), token));
