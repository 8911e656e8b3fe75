// A SKAN 4.0 signer on WebCrypto, for tests that run on both runtimes (workerd has no node:crypto).
// It follows SPEC.md's recipe as test/support/signing.ts does, independently of src/.
import { SIGNED } from './skan-recipes.js';

export interface WebKey {
  /** For SKANPOST_EXTRA_KEYS. */
  spkiBase64: string;
  privateKey: CryptoKey;
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

export async function generateWebKey(): Promise<WebKey> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const spki = new Uint8Array((await crypto.subtle.exportKey('spki', pair.publicKey)) as ArrayBuffer);
  return { spkiBase64: base64(spki), privateKey: pair.privateKey };
}

/** r‖s (WebCrypto's form) as the DER SEQUENCE of two INTEGERs Apple's signatures use. */
function der(raw: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = bytes.slice(start);
    return trimmed[0]! & 0x80 ? [0x02, trimmed.length + 1, 0, ...trimmed] : [0x02, trimmed.length, ...trimmed];
  };
  const body = [...integer(raw.slice(0, 32)), ...integer(raw.slice(32))];
  return new Uint8Array([0x30, body.length, ...body]);
}

/** A SKAN 4.0 body with its `attribution-signature`. */
export async function signSkan4(body: Record<string, unknown>, key: WebKey): Promise<Record<string, unknown>> {
  const message = SIGNED['4.0']!.filter((f) => f in body)
    .map((f) => String(body[f]))
    .join('\u2063');
  const raw = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, new TextEncoder().encode(message)));
  return { ...body, 'attribution-signature': base64(der(raw)) };
}

let transaction = 0;

/** A verified SKAN 4.0 window-0 install, a fresh transaction id each time, signed by `key`. */
export function skan4Postback(key: WebKey, overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  transaction++;
  return signSkan4(
    {
      version: '4.0',
      'ad-network-id': 'net.skadnetwork',
      'source-identifier': '5239',
      'app-id': 77,
      'transaction-id': `00000000-0000-4000-8000-${transaction.toString(16).padStart(12, '0')}`,
      redownload: false,
      'fidelity-type': 1,
      'did-win': true,
      'postback-sequence-index': 0,
      ...overrides,
    },
    key,
  );
}
