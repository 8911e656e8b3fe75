// Test-side signer: generates key pairs and signs postbacks from SPEC.md's recipe table, written
// independently of src/ so a wrong production recipe cannot agree with itself.
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { SIGNED } from './skan-recipes.js';

export interface TestKey {
  curve: 'P-256' | 'P-192';
  spkiBase64: string;
  privateKey: KeyObject;
}

export function generateKey(curve: 'P-256' | 'P-192'): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve === 'P-256' ? 'prime256v1' : 'prime192v1' });
  return { curve, privateKey, spkiBase64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') };
}

type Body = Record<string, unknown>;

/** The message Apple signs: present signed values in order, joined by U+2063. */
export function skanMessage(body: Body, version = (body.version as string | undefined) ?? '1.0'): string {
  return SIGNED[version]!.filter((field) => field in body && !(version === '1.0' && field === 'version'))
    .map((field) => String(body[field]))
    .join('\u2063');
}

export function signSkan(body: Body, key: TestKey, version?: string): Body {
  const signature = sign('sha256', Buffer.from(skanMessage(body, version), 'utf8'), { key: key.privateKey, dsaEncoding: 'der' });
  return { ...body, 'attribution-signature': signature.toString('base64') };
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export function signJws(header: Body, payload: Body, key: TestKey): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(signature)}`;
}

let counter = 0;
/** A fresh lower-case UUID, so tests never collide on a dedupe key by accident. */
export function uuid(): string {
  counter++;
  return `6aafb7a5-0170-41b5-bbe4-${counter.toString(16).padStart(12, '0')}`;
}

export function aakPayload(overrides: Body = {}): Body {
  return {
    'impression-type': 'app-impression',
    'ad-network-identifier': 'example.adattributionkit',
    'source-identifier': '5239',
    'advertised-item-identifier': 525463029,
    'conversion-type': 'download',
    'postback-identifier': uuid().toUpperCase(),
    'did-win': true,
    'postback-sequence-index': 0,
    'marketplace-identifier': 'com.apple.AppStore',
    'publisher-item-identifier': 1234567891,
    ...overrides,
  };
}

export function skanBody(version: string, overrides: Body = {}): Body {
  const base: Body = {
    version,
    'ad-network-id': 'example123.skadnetwork',
    'app-id': 525463029,
    'transaction-id': uuid(),
  };
  if (version === '1.0') delete base.version;
  if (version !== '4.0') base['campaign-id'] = 42;
  else base['source-identifier'] = '5239';
  if (version !== '1.0') base.redownload = false;
  if (['2.2', '3.0', '4.0'].includes(version)) base['fidelity-type'] = 1;
  if (['3.0', '4.0'].includes(version)) base['did-win'] = true;
  if (version === '4.0') base['postback-sequence-index'] = 0;
  return { ...base, ...overrides };
}
