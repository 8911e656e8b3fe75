// Unique SKAN 4.0 postbacks signed with a key made for the run: what the ingest benches send
// (`bench/ingest.ts` over HTTP, `bench/writer.ts` to the writer thread). A server counts them as
// verified when `SPKI` is in its SKANPOST_EXTRA_KEYS.
import { generateKeyPairSync, sign } from 'node:crypto';
import { SIGNED } from '../test/support/skan-recipes.js';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
export const SPKI = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
let serial = 0;

/** How many postbacks were made so far (each has a transaction id of its own). */
export const madeSoFar = () => serial;

/** Unique SKAN 4.0 postbacks signed with the bench key (optionally a share of duplicates and forgeries). */
export function signedPostbacks(count: number, mix = { duplicates: 0, invalid: 0 }): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (out.length > 0 && i % 100 < mix.duplicates * 100) {
      out.push(out[Math.floor(Math.random() * out.length)]!);
      continue;
    }
    const body: Record<string, unknown> = {
      version: '4.0',
      'ad-network-id': 'bench.skadnetwork',
      'source-identifier': String(1000 + (i % 9000)),
      'app-id': 1_000_000 + (i % 20),
      'transaction-id': `00000000-0000-4000-8000-${(serial++).toString(16).padStart(12, '0')}`,
      redownload: false,
      'fidelity-type': 1,
      'did-win': true,
      'postback-sequence-index': 0,
      // The publisher's app: a signed field of 4.0 when present, as in most real postbacks.
      'source-app-id': 500_000 + (i % 50),
      'conversion-value': i % 64,
    };
    const message = SIGNED['4.0']!.filter((f) => f in body)
      .map((f) => String(body[f]))
      .join('\u2063');
    body['attribution-signature'] = sign('sha256', Buffer.from(message), { key: privateKey, dsaEncoding: 'der' }).toString('base64');
    if (i % 100 >= 100 - mix.invalid * 100) body['app-id'] = (body['app-id'] as number) + 1; // signature no longer matches
    out.push(JSON.stringify(body));
  }
  return out;
}
