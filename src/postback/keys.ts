// Apple's published keys and operator-added ones (SKANPOST_EXTRA_KEYS), parsed once with @peculiar/x509.
// @peculiar/x509 needs the reflect-metadata polyfill loaded first: each program's entry imports it.
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { PublicKey } from '@peculiar/x509';

export type Curve = 'P-256' | 'P-192';
export type Environment = 'production' | 'development';

export interface EcPublicKey {
  readonly curve: Curve;
  /** DER SubjectPublicKeyInfo, for WebCrypto and node:crypto. */
  readonly spki: Uint8Array<ArrayBuffer>;
  /** The SEC 1 point inside it, for the pure-JS P-192 path. */
  readonly point: Uint8Array<ArrayBuffer>;
}

export interface SkanKey extends EcPublicKey {
  readonly id: string;
}

interface AakKey extends EcPublicKey {
  readonly kid: string;
  readonly environment: Environment;
}

export interface KeyRing {
  readonly skan: readonly SkanKey[];
  readonly aak: ReadonlyMap<string, AakKey>;
  /** Ids and kids of the operator-added keys, for the start-up warning. */
  readonly extra: readonly string[];
}

const APPLE_SKAN_P192 = 'MEkwEwYHKoZIzj0CAQYIKoZIzj0DAQEDMgAEMyHD625uvsmGq4C43cQ9BnfN2xslVT5V1nOmAMP6qaRRUll3PB1JYmgSm+62sosG';
const APPLE_SKAN_P256 = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWdp8GPcGqmhgzEFj9Z2nSpQVddayaPe4FMzqM9wib1+aHaaIzoHoLN9zW4K8y4SPykE3YVK3sVqW6Af0lfx3gg==';
const APPLE_AAK_DEV_0 = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAELeEDzpJEP+/qRSE5hJVC1p1J0ssUnQGMzBBbvnACBok8OVGGLgxL0myrKiy6lvRtSlLRsWit87i+vftD8AEqeQ==';
const APPLE_AAK_DEV_1 = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8YzdO7eM97s/IJ25kdW5CZ3A14USE5IJ5Ha/vhWaxI6UBI1ZxCEvjrKxVluVGe6qWwF1BDFq+QHqKfH5u+wxHQ==';

// DER of the namedCurve OIDs in the SPKI's AlgorithmIdentifier parameters.
const CURVE_OIDS: Record<string, Curve> = {
  '06082a8648ce3d030107': 'P-256', // prime256v1
  '06082a8648ce3d030101': 'P-192', // prime192v1
};

export class KeyConfigError extends Error {}

const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Parses a base64 DER SubjectPublicKeyInfo and tells which curve it is on. */
function parseSpki(base64: string): EcPublicKey {
  let spki: Uint8Array<ArrayBuffer>;
  try {
    spki = new Uint8Array(new PublicKey(base64ToBytes(base64.trim())).rawData);
  } catch {
    throw new KeyConfigError('not a base64 DER SubjectPublicKeyInfo');
  }
  const info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  const params = info.algorithm.parameters;
  const curve = info.algorithm.algorithm === '1.2.840.10045.2.1' && params ? CURVE_OIDS[toHex(new Uint8Array(params))] : undefined;
  if (!curve) throw new KeyConfigError('not an EC key on P-256 or P-192');
  return { curve, spki, point: new Uint8Array(info.subjectPublicKey) };
}

function aakKey(kid: string, environment: Environment, key: EcPublicKey): AakKey {
  if (key.curve !== 'P-256') throw new KeyConfigError(`AdAttributionKit key ${kid} must be P-256`);
  return { kid, environment, ...key };
}

async function fingerprint(spki: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', spki));
  return toHex(digest.subarray(0, 8));
}

let appleKeys: { skan: SkanKey[]; aak: AakKey[] } | undefined;

// Immutable and the same for every deployment, so parsed once per isolate or process.
function apple() {
  if (appleKeys) return appleKeys;
  // AdAttributionKit's production kid signs with the SKAN P-256 key: one key, parsed once.
  const p256 = parseSpki(APPLE_SKAN_P256);
  appleKeys = {
    skan: [
      { id: 'apple-skan-p256', ...p256 },
      { id: 'apple-skan-p192', ...parseSpki(APPLE_SKAN_P192) },
    ],
    aak: [
      aakKey('apple-cas-identifier/0', 'production', p256),
      aakKey('apple-development-identifier/0', 'development', parseSpki(APPLE_AAK_DEV_0)),
      aakKey('apple-development-identifier/1', 'development', parseSpki(APPLE_AAK_DEV_1)),
    ],
  };
  return appleKeys;
}

/**
 * Builds the key ring: Apple's keys plus SKANPOST_EXTRA_KEYS, a comma-separated list of
 * `SPKI` (SKAN key for every version of its curve), `aak:KID=SPKI` or `aak-dev:KID=SPKI`.
 */
export async function buildKeyRing(extraKeys = ''): Promise<KeyRing> {
  const skan = [...apple().skan];
  const aak = new Map(apple().aak.map((k) => [k.kid, k]));
  const extra: string[] = [];
  const entries = extraKeys
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const [index, entry] of entries.entries()) {
    try {
      const aakMatch = /^(aak|aak-dev):([^=]+)=(.+)$/s.exec(entry);
      if (aakMatch) {
        const [, prefix, kid, spki] = aakMatch as unknown as [string, string, string, string];
        aak.set(kid, aakKey(kid, prefix === 'aak' ? 'production' : 'development', parseSpki(spki)));
        extra.push(kid);
      } else if (/^[A-Za-z0-9+/=\s]+$/.test(entry)) {
        const parsed = parseSpki(entry);
        const id = `extra-${parsed.curve.toLowerCase()}-${await fingerprint(parsed.spki)}`;
        skan.push({ id, ...parsed });
        extra.push(id);
      } else {
        throw new KeyConfigError('expected SPKI, aak:KID=SPKI or aak-dev:KID=SPKI');
      }
    } catch (error) {
      if (error instanceof KeyConfigError) {
        throw new KeyConfigError(`SKANPOST_EXTRA_KEYS entry ${index + 1}: ${error.message}`);
      }
      throw error;
    }
  }
  return { skan, aak, extra };
}
