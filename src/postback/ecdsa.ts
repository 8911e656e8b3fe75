// ECDSA-SHA256 verification behind one small interface: WebCrypto for P-256 everywhere, and a
// replaceable P-192 path because WebCrypto has no P-192 (Node passes node:crypto, Workers keep noble).

import { ecdsa, weierstrass } from '@noble/curves/abstract/weierstrass.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { AsnEcSignatureFormatter } from '@peculiar/x509';
import type { EcPublicKey } from './keys.js';

/** `der` is SKAN's SEQUENCE{r,s}; `p1363` is the raw r‖s of a JWS. */
type SignatureEncoding = 'der' | 'p1363';

export type VerifyFn = (key: EcPublicKey, message: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>, encoding: SignatureEncoding) => Promise<boolean>;

export interface EcdsaVerifier {
  verify: VerifyFn;
}

// secp192r1 domain parameters, public constants of FIPS 186-4 (D.1.2.1).
const p192 = ecdsa(
  weierstrass({
    p: 0xfffffffffffffffffffffffffffffffeffffffffffffffffn,
    n: 0xffffffffffffffffffffffff99def836146bc9b1b4d22831n,
    h: 1n,
    a: 0xfffffffffffffffffffffffffffffffefffffffffffffffcn,
    b: 0x64210519e59c80e70fa7e9ab72243049feb8deecc146b9b1n,
    Gx: 0x188da80eb03090f67cbf20eb43a18800f4ff0afd82ff1012n,
    Gy: 0x07192b95ffc8da78631011ed6b24cdd573f977a11e794811n,
  }),
  sha256,
);

/** Pure-JS P-192: slow (hundreds per second) but runs wherever JavaScript does. */
const nobleP192: VerifyFn = async (key, message, signature, encoding) => {
  try {
    // OpenSSL-style signers (Apple's included) do not normalise s, so high-S must verify.
    return p192.verify(signature, message, key.point, { lowS: false, format: encoding === 'der' ? 'der' : 'compact' });
  } catch {
    return false;
  }
};

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const importedKeys = new WeakMap<Uint8Array<ArrayBuffer>, Promise<CryptoKey>>();
const formatter = new AsnEcSignatureFormatter();

function importP256(key: EcPublicKey): Promise<CryptoKey> {
  let imported = importedKeys.get(key.spki);
  if (!imported) {
    imported = crypto.subtle.importKey('spki', key.spki, ECDSA_P256, false, ['verify']);
    importedKeys.set(key.spki, imported);
  }
  return imported;
}

function toP1363(der: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> | undefined {
  try {
    const raw = formatter.toWebSignature(ECDSA_P256, der);
    return raw && raw.byteLength === 64 ? new Uint8Array(raw) : undefined;
  } catch {
    return undefined;
  }
}

const webCryptoP256: VerifyFn = async (key, message, signature, encoding) => {
  const raw = encoding === 'der' ? toP1363(signature) : signature;
  if (raw?.byteLength !== 64) return false;
  return crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, await importP256(key), raw, message);
};

/** WebCrypto P-256 and pure-JS P-192 by default; a runtime may pass faster ones. */
export function createEcdsaVerifier(options: { p192?: VerifyFn; p256?: VerifyFn } = {}): EcdsaVerifier {
  const verifyP192 = options.p192 ?? nobleP192;
  const verifyP256 = options.p256 ?? webCryptoP256;
  return {
    verify: (key, message, signature, encoding) => (key.curve === 'P-256' ? verifyP256(key, message, signature, encoding) : verifyP192(key, message, signature, encoding)),
  };
}
