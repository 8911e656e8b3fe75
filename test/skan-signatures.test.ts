// SKAN postbacks signed in the test with generated P-256 and P-192 keys: every version, every
// optional-field combination, and tampering with signed versus unsigned fields.
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/hash.js';
import { buildPostbackRow } from '../src/ingest/row.js';
import { createNodeVerifier, createVerification } from '../src/node/crypto.js';
import { createEcdsaVerifier } from '../src/postback/ecdsa.js';
import { inspectPostback } from '../src/postback/inspect.js';
import { buildKeyRing } from '../src/postback/keys.js';
import { readPostback } from '../src/postback/read.js';
import { generateKey, signSkan, skanBody, skanMessage } from './support/signing.js';

const p256 = generateKey('P-256');
const p192 = generateKey('P-192');
const keys = await buildKeyRing(`${p256.spkiBase64},${p192.spkiBase64}`);
// Node's verifier (node:crypto for both curves) and the runtime-neutral one (WebCrypto P-256,
// @noble P-192) that Workers use.
const verifiers = { 'node:crypto': createNodeVerifier(), 'WebCrypto + @noble': createEcdsaVerifier() };

async function inspect(body: Record<string, unknown>, verifier = verifiers['node:crypto']) {
  const read = readPostback(new TextEncoder().encode(JSON.stringify(body)));
  if (!read.ok) throw new Error(`unexpected 400: ${JSON.stringify(read.problems)}`);
  return inspectPostback(read.postback, { keys, verifier });
}

const keyFor = (version: string) => (version === '1.0' || version === '2.0' ? p192 : p256);

// Every combination the issue names, per version: [label, overrides].
const CASES: Array<[string, string, Record<string, unknown>]> = [
  ['4.0', 'with source-app-id, fine value', { 'source-app-id': 1234567891, 'conversion-value': 17 }],
  ['4.0', 'with source-domain, coarse value', { 'source-domain': 'example.com', 'coarse-conversion-value': 'medium' }],
  ['4.0', 'with neither, no value', {}],
  ['4.0', 'postback-sequence-index 1, coarse', { 'postback-sequence-index': 1, 'coarse-conversion-value': 'high' }],
  ['4.0', 'postback-sequence-index 2, coarse', { 'postback-sequence-index': 2, 'coarse-conversion-value': 'low' }],
  ['4.0', 'non-winning', { 'did-win': false }],
  ['4.0', '2-digit source-identifier with a leading zero', { 'source-identifier': '07' }],
  ['4.0', '4-digit source-identifier "0042"', { 'source-identifier': '0042', 'country-code': 'US' }],
  ['3.0', 'winning with source-app-id', { 'source-app-id': 1234567891, 'conversion-value': 20 }],
  ['3.0', 'non-winning', { 'did-win': false }],
  ['2.2', 'with source-app-id', { 'source-app-id': 1234567891, 'fidelity-type': 0 }],
  ['2.2', 'without source-app-id', {}],
  ['2.1', 'with source-app-id', { 'source-app-id': 1234567891 }],
  ['2.1', 'without source-app-id', { redownload: true }],
  ['2.0', 'with source-app-id', { 'source-app-id': 1234567891, 'conversion-value': 5 }],
  ['2.0', 'without source-app-id', {}],
  ['1.0', 'without a version key', {}],
  ['1.0', 'with "version": "1.0" and an unsigned redownload', { version: '1.0', redownload: true }],
];

describe.each(Object.entries(verifiers))('SKAN signatures (%s)', (_, verifier) => {
  it.each(CASES)('%s %s verifies', async (version, _label, overrides) => {
    const body = signSkan(skanBody(version, overrides), keyFor(version), version);
    const inspection = await inspect(body, verifier);
    expect(inspection.reasons).toEqual([]);
    expect(inspection).toMatchObject({ signature: 'verified', version, message: skanMessage(body, version) });
    expect(inspection.key).toMatch(version === '1.0' || version === '2.0' ? /^extra-p-192-/ : /^extra-p-256-/);
  });
});

describe('what the signature covers', () => {
  const SIGNED_CHANGES: Record<string, unknown> = {
    'ad-network-id': 'other.skadnetwork',
    'source-identifier': '5238',
    'app-id': 525463028,
    'transaction-id': '00000000-0000-0000-0000-000000000000',
    redownload: true,
    'source-domain': 'example.org',
    'fidelity-type': 0,
    'did-win': false,
    'postback-sequence-index': 1,
    version: '4.0 ',
  };
  const signed40 = signSkan(skanBody('4.0', { 'source-domain': 'example.com', 'conversion-value': 9 }), p256, '4.0');

  it.each(Object.entries(SIGNED_CHANGES))('changing signed %s makes it invalid', async (field, value) => {
    const inspection = await inspect({ ...signed40, [field]: value });
    expect(inspection.signature).not.toBe('verified');
  });

  it.each([
    ['conversion-value', 10],
    ['coarse-conversion-value', 'high'],
    ['country-code', 'FR'],
    ['timestamp', '1700000000'],
    ['ip-address', '192.0.2.1'],
  ])('changing or adding unsigned %s keeps it verified', async (field, value) => {
    const inspection = await inspect({ ...signed40, [field]: value });
    expect(inspection.signature).toBe('verified');
  });

  it('changing campaign-id of a 3.0 postback makes it invalid', async () => {
    const body = signSkan(skanBody('3.0'), p256, '3.0');
    expect((await inspect(body)).signature).toBe('verified');
    expect((await inspect({ ...body, 'campaign-id': 43 })).signature).toBe('invalid');
  });

  it('adding an optional signed field that was not signed makes it invalid', async () => {
    const body = signSkan(skanBody('3.0'), p256, '3.0');
    expect((await inspect({ ...body, 'source-app-id': 1 })).signature).toBe('invalid');
  });

  it.each([
    ['app-id', '525463029', 'a plain integer'],
    ['redownload', 'false', 'a boolean'],
    ['did-win', 1, 'a boolean'],
    ['postback-sequence-index', '0', 'a plain integer'],
    ['source-identifier', 5239, 'a non-empty string'],
  ])('a signed %s of the wrong JSON type is invalid, not coerced', async (field, value, expected) => {
    const body = skanBody('4.0');
    // Signed over the coerced text: a lenient verifier would accept it.
    const signed = signSkan({ ...body, [field]: value }, p256, '4.0');
    const inspection = await inspect(signed);
    expect(inspection.signature).toBe('invalid');
    expect(inspection.reasons.join()).toContain(`${field}: signed field must be ${expected}`);
  });

  it('a missing signed field is invalid and named', async () => {
    const { 'did-win': _, ...body } = signSkan(skanBody('4.0'), p256, '4.0');
    const inspection = await inspect(body);
    expect(inspection).toMatchObject({ signature: 'invalid', reasons: ['did-win: signed field missing'] });
  });

  it('source-app-id and source-domain together are invalid', async () => {
    const inspection = await inspect(signSkan(skanBody('4.0', { 'source-app-id': 1, 'source-domain': 'a.example' }), p256, '4.0'));
    expect(inspection.signature).toBe('invalid');
  });

  it('a P-256 signature does not verify a version Apple signs with P-192, and vice versa', async () => {
    expect((await inspect(signSkan(skanBody('2.0'), p256, '2.0'))).signature).toBe('invalid');
    expect((await inspect(signSkan(skanBody('2.1'), p192, '2.1'))).signature).toBe('invalid');
  });

  it('an unknown version is unverifiable and keeps its typed fields', async () => {
    const inspection = await inspect(signSkan(skanBody('4.0', { version: '5.0' }), p256, '4.0'));
    expect(inspection).toMatchObject({ signature: 'unverifiable', version: '5.0', fields: { appId: 525463029, sourceIdentifier: '5239' } });
  });

  it('a signature that is not base64 or not DER is invalid', async () => {
    const body = signSkan(skanBody('4.0'), p256, '4.0');
    expect((await inspect({ ...body, 'attribution-signature': 'not base64!' })).reasons).toContain('attribution-signature: not base64');
    expect((await inspect({ ...body, 'attribution-signature': 'AAAA' })).signature).toBe('invalid');
  });
});

describe('unsigned values', () => {
  it.each([
    ['conversion-value', 64],
    ['conversion-value', -1],
    ['conversion-value', '20'],
    ['conversion-value', 1.5],
    ['coarse-conversion-value', 'LOW'],
    ['country-code', 'USA'],
    ['country-code', 7],
  ])('a bad %s (%j) is dropped, named, and the postback stays verified', async (field, value) => {
    const inspection = await inspect({ ...signSkan(skanBody('4.0'), p256, '4.0'), [field]: value });
    expect(inspection.signature).toBe('verified');
    expect(inspection.reasons).toHaveLength(1);
    expect(inspection.reasons[0]).toMatch(new RegExp(`^${field}: .*; dropped$`));
    expect(inspection.fields).toMatchObject({ conversionValue: null, coarseConversionValue: null, countryCode: null });
  });

  it('a fine value outside the first window is dropped', async () => {
    const body = signSkan(skanBody('4.0', { 'postback-sequence-index': 2, 'conversion-value': 3 }), p256, '4.0');
    const inspection = await inspect(body);
    expect(inspection).toMatchObject({ signature: 'verified', fields: { conversionValue: null } });
  });

  it('absent values stay absent, never 0', async () => {
    const inspection = await inspect(signSkan(skanBody('4.0'), p256, '4.0'));
    expect(inspection.fields).toMatchObject({ conversionValue: null, coarseConversionValue: null, countryCode: null });
  });
});

describe('key order', () => {
  it('tries the key that verified last first, and still finds any other trusted key', async () => {
    const second = generateKey('P-256');
    const ring = await buildKeyRing(`${p256.spkiBase64},${second.spkiBase64}`);
    let calls = 0;
    const base = createNodeVerifier();
    const counting = {
      verify: (...args: Parameters<typeof base.verify>) => {
        calls++;
        return base.verify(...args);
      },
    };
    const check = async (key: typeof p256) => {
      calls = 0;
      const read = readPostback(new TextEncoder().encode(JSON.stringify(signSkan(skanBody('4.0'), key, '4.0'))));
      if (!read.ok) throw new Error('unexpected 400');
      const inspection = await inspectPostback(read.postback, { keys: ring, verifier: counting });
      return { signature: inspection.signature, calls };
    };
    // Apple's P-256 key comes first in the ring: the first postback by `second` tries three keys.
    expect(await check(second)).toEqual({ signature: 'verified', calls: 3 });
    expect(await check(second)).toEqual({ signature: 'verified', calls: 1 });
    expect(await check(p256)).toEqual({ signature: 'verified', calls: 3 });
    expect(await check(p256)).toEqual({ signature: 'verified', calls: 1 });
  });
});

it("Node's body hash (OpenSSL) gives the digest hash.ts gives on every runtime, for any text", async () => {
  const { sha256Hex: nodeHash } = await createVerification('');
  expect(nodeHash).toBeTypeOf('function');
  for (const text of ['', '{"version":"4.0"}', 'caf\u00e9 \u{1F600} \u2063', 'x'.repeat(17_000)]) expect(nodeHash!(text)).toBe(sha256Hex(text));
  expect(nodeHash!('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

it('builds the row of a postback as an object with fast properties, not a dictionary', async () => {
  // The row is cloned to the writer thread and read column by column there: V8 keeps a dictionary
  // object's properties in a hash table, slower to build, to clone and to read.
  setFlagsFromString('--allow-natives-syntax');
  const fastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
  for (const body of [signSkan(skanBody('4.0', { 'source-app-id': 1234567891 }), p256, '4.0'), signSkan(skanBody('2.2'), p256, '2.2')]) {
    const read = readPostback(new TextEncoder().encode(JSON.stringify(body)));
    if (!read.ok) throw new Error('unexpected 400');
    const row = buildPostbackRow(read.postback, await inspectPostback(read.postback, { keys, verifier: verifiers['node:crypto'] }), new Date());
    expect(row).toMatchObject({ signature: 'verified', outcome: 'stored', channel: 'direct' });
    expect(Object.keys(row).length).toBeGreaterThan(25);
    expect(fastProperties(row)).toBe(true);
  }
});
