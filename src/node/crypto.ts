// node:crypto's P-192, several times faster than the pure-JS path the Worker uses.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { VerifyFn } from '../postback/ecdsa.js';

const keyObjects = new WeakMap<Uint8Array, KeyObject>();

export const nodeP192: VerifyFn = async (key, message, signature, encoding) => {
  let keyObject = keyObjects.get(key.spki);
  if (!keyObject) {
    keyObject = createPublicKey({ key: Buffer.from(key.spki), format: 'der', type: 'spki' });
    keyObjects.set(key.spki, keyObject);
  }
  try {
    return verify('sha256', message, { key: keyObject, dsaEncoding: encoding === 'der' ? 'der' : 'ieee-p1363' }, signature);
  } catch {
    return false; // malformed DER
  }
};
