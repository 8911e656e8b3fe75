// AdAttributionKit JWS postbacks with generated keys: production, development and unknown kids,
// and every alg that must be refused.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createEcdsaVerifier } from '../src/postback/ecdsa.js';
import { inspectPostback } from '../src/postback/inspect.js';
import { buildKeyRing } from '../src/postback/keys.js';
import { readPostback } from '../src/postback/read.js';
import { aakPayload, generateKey, signJws } from './support/signing.js';

const prod = generateKey('P-256');
const dev = generateKey('P-256');
const stranger = generateKey('P-256');
const keys = await buildKeyRing(`aak:test-prod/0=${prod.spkiBase64},aak-dev:test-dev/0=${dev.spkiBase64}`);
const verification = { keys, verifier: createEcdsaVerifier() };

async function inspect(body: Record<string, unknown>) {
  const read = readPostback(new TextEncoder().encode(JSON.stringify(body)));
  if (!read.ok) throw new Error(`unexpected 400: ${JSON.stringify(read.problems)}`);
  return inspectPostback(read.postback, verification);
}

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

describe('AdAttributionKit signatures', () => {
  it('a production kid verifies, with every payload field mapped', async () => {
    const payload = aakPayload({ 'conversion-type': 'redownload', 'postback-sequence-index': 1 });
    const jws = signJws({ kid: 'test-prod/0', alg: 'ES256' }, payload, prod);
    const inspection = await inspect({ 'jws-string': jws, 'coarse-conversion-value': 'high', 'ad-interaction-type': 'view', 'country-code': 'de' });
    expect(inspection).toMatchObject({
      protocol: 'aak',
      environment: 'production',
      signature: 'verified',
      key: 'test-prod/0',
      reasons: [],
      message: jws.split('.').slice(0, 2).join('.'),
      fields: {
        adNetworkId: 'example.adattributionkit',
        transactionId: payload['postback-identifier'],
        appId: 525463029,
        sourceAppId: 1234567891,
        sourceIdentifier: '5239',
        conversionType: 'redownload',
        postbackSequenceIndex: 1,
        didWin: true,
        coarseConversionValue: 'high',
        adInteractionType: 'view',
        countryCode: 'DE',
        kid: 'test-prod/0',
      },
    });
  });

  it('a development kid gives the development verdict and environment', async () => {
    const inspection = await inspect({ 'jws-string': signJws({ kid: 'test-dev/0', alg: 'ES256' }, aakPayload(), dev) });
    expect(inspection).toMatchObject({ signature: 'development', environment: 'development', key: 'test-dev/0' });
  });

  it('an unknown kid is unverifiable', async () => {
    const inspection = await inspect({ 'jws-string': signJws({ kid: 'apple-cas-identifier/9', alg: 'ES256' }, aakPayload(), stranger) });
    expect(inspection.signature).toBe('unverifiable');
    expect(inspection.reasons).toEqual(['jws-string: no trusted key has kid "apple-cas-identifier/9"']);
  });

  it("a known kid with someone else's signature is invalid", async () => {
    const inspection = await inspect({ 'jws-string': signJws({ kid: 'test-prod/0', alg: 'ES256' }, aakPayload(), stranger) });
    expect(inspection.signature).toBe('invalid');
  });

  it('a tampered payload is invalid', async () => {
    const jws = signJws({ kid: 'test-prod/0', alg: 'ES256' }, aakPayload(), prod);
    const [header, , signature] = jws.split('.');
    const forged = `${header}.${b64url(aakPayload({ 'did-win': false }))}.${signature}`;
    expect((await inspect({ 'jws-string': forged })).signature).toBe('invalid');
  });

  it('unsigned keys beside the JWS do not affect the verdict; bad ones are dropped', async () => {
    const jws = signJws({ kid: 'test-prod/0', alg: 'ES256' }, aakPayload(), prod);
    const inspection = await inspect({ 'jws-string': jws, 'conversion-value': 99, 'ad-interaction-type': 'tap' });
    expect(inspection.signature).toBe('verified');
    expect(inspection.reasons).toHaveLength(2);
    expect(inspection.fields).toMatchObject({ conversionValue: null, adInteractionType: null });
  });

  it('alg none is refused', async () => {
    const jws = `${b64url({ kid: 'test-prod/0', alg: 'none' })}.${b64url(aakPayload())}.${b64url('x')}`;
    const inspection = await inspect({ 'jws-string': jws });
    expect(inspection.signature).toBe('invalid');
    expect(inspection.reasons[0]).toContain('alg "none" is refused');
  });

  it('alg HS256 keyed with the public key is refused (algorithm confusion)', async () => {
    const input = `${b64url({ kid: 'test-prod/0', alg: 'HS256' })}.${b64url(aakPayload())}`;
    const mac = createHmac('sha256', Buffer.from(prod.spkiBase64, 'base64')).update(input).digest('base64url');
    const inspection = await inspect({ 'jws-string': `${input}.${mac}` });
    expect(inspection.signature).toBe('invalid');
    expect(inspection.reasons[0]).toContain('alg "HS256" is refused');
  });

  it('alg ES384 is refused even with a valid ES256 signature underneath', async () => {
    const jws = signJws({ kid: 'test-prod/0', alg: 'ES384' }, aakPayload(), prod);
    expect((await inspect({ 'jws-string': jws })).signature).toBe('invalid');
  });

  it('a verified JWS whose payload lacks a signed field is invalid and says which', async () => {
    const { 'postback-identifier': _, ...payload } = aakPayload();
    const inspection = await inspect({ 'jws-string': signJws({ kid: 'test-prod/0', alg: 'ES256' }, payload, prod) });
    expect(inspection.signature).toBe('invalid');
    expect(inspection.reasons).toContain('jws-string: payload field postback-identifier missing');
  });

  it('a header that is not JSON is invalid, not a 400', async () => {
    const inspection = await inspect({ 'jws-string': `${b64url('not json')}.${b64url(aakPayload())}.${b64url('sig')}` });
    expect(inspection.signature).toBe('invalid');
  });

  it('extra keys must be P-256 for AdAttributionKit', async () => {
    await expect(buildKeyRing(`aak:x=${generateKey('P-192').spkiBase64}`)).rejects.toThrow(/entry 1: AdAttributionKit key x must be P-256/);
  });
});
