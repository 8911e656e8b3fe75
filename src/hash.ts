// SHA-256 as lower-case hex, synchronous and the same on every runtime, and bytes as base64url. The inputs are small
// (postback bodies ≤ 16 KiB, API key secrets): a pure-JS hash beats a WebCrypto round trip.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

const encoder = new TextEncoder();

export const sha256Hex = (text: string): string => bytesToHex(sha256(encoder.encode(text)));

/** Bytes as unpadded base64url (RFC 4648 §5): secrets, tokens, click IDs and signatures in URLs and cookies. */
export const base64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
