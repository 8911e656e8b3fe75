// SHA-256 as lower-case hex, synchronous and the same on every runtime. The inputs are small
// (postback bodies ≤ 16 KiB, API key secrets): a pure-JS hash beats a WebCrypto round trip.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

const encoder = new TextEncoder();

export const sha256Hex = (text: string): string => bytesToHex(sha256(encoder.encode(text)));
