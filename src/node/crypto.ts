// node:crypto verification for the Node runtime: without WebCrypto's per-call argument checking,
// and it knows P-192.
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import type { Logger } from '../observability/logger.js';
import { createEcdsaVerifier, type EcdsaVerifier, type VerifyFn } from '../postback/ecdsa.js';
import type { Verification } from '../postback/inspect.js';
import { buildKeyRing, type EcPublicKey } from '../postback/keys.js';

const keyObjects = new WeakMap<Uint8Array, KeyObject>();

function keyObject(key: EcPublicKey): KeyObject {
  let object = keyObjects.get(key.spki);
  if (!object) {
    object = createPublicKey({ key: Buffer.from(key.spki), format: 'der', type: 'spki' });
    keyObjects.set(key.spki, object);
  }
  return object;
}

// Synchronous: one P-256 verification is ~50 µs of the main thread's CPU, where the callback form
// costs ~80 µs spread over libuv's pool (a job queued, a thread woken, the answer sent back) and
// gave fewer postbacks a second on two cores (BENCHMARKS.md).
const nodeVerify: VerifyFn = async (key, message, signature, encoding) => {
  try {
    return verify('sha256', message, { key: keyObject(key), dsaEncoding: encoding === 'der' ? 'der' : 'ieee-p1363' }, signature);
  } catch {
    return false; // malformed DER
  }
};

export function createNodeVerifier(): EcdsaVerifier {
  return createEcdsaVerifier({ p192: nodeVerify, p256: nodeVerify });
}

/** The built-in keys and SKANPOST_EXTRA_KEYS, verified with node:crypto (the server, the CLI). */
export async function createVerification(extraKeys: string, logger?: Logger): Promise<Verification> {
  const keys = await buildKeyRing(extraKeys);
  if (keys.extra.length > 0) {
    logger?.warn('SKANPOST_EXTRA_KEYS is set: postbacks signed with these keys count as genuine', { keys: keys.extra });
  }
  // OpenSSL's SHA-256 of a postback body takes ~1.2 µs, the pure-JS one ~7.6 µs: same digest.
  return { keys, verifier: createNodeVerifier(), sha256Hex: (text) => createHash('sha256').update(text, 'utf8').digest('hex') };
}
