// The ingest endpoints: status codes, problem+json, and every row of the dedupe outcome table.
import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AAK_PATH, createTestApp, SKAN_PATH, type TestApp } from './support/app.js';
import { aakPayload, generateKey, signJws, signSkan, skanBody, uuid } from './support/signing.js';

const p256 = generateKey('P-256');
const devKey = generateKey('P-256');
const EXTRA = `${p256.spkiBase64},aak-dev:test-dev/0=${devKey.spkiBase64},aak:test-prod/0=${p256.spkiBase64}`;

let app: TestApp;
beforeEach(async () => {
  app = await createTestApp({ extraKeys: EXTRA });
});
afterEach(async () => {
  await app.close();
});

const verified40 = (overrides: Record<string, unknown> = {}) => signSkan(skanBody('4.0', { 'conversion-value': 12, 'country-code': 'US', ...overrides }), p256, '4.0');
const forged = (body: Record<string, unknown>) => ({ ...body, 'attribution-signature': signSkan(skanBody('4.0'), p256, '4.0')['attribution-signature'] });
const receipt = async (response: Response) => {
  expect(response.status).toBe(200);
  return response.json() as Promise<{ id: number; outcome: string; signature: string; reasons: string[] }>;
};

describe('routes', () => {
  it('accepts both paths, with and without the trailing slash, and both formats on each', async () => {
    const paths = [SKAN_PATH, SKAN_PATH.slice(0, -1), AAK_PATH, AAK_PATH.slice(0, -1)];
    for (const path of paths) {
      expect((await receipt(await app.post(verified40({ 'transaction-id': uuid() }), { path }))).signature).toBe('verified');
      const jws = signJws({ kid: 'test-prod/0', alg: 'ES256' }, aakPayload(), p256);
      expect((await receipt(await app.post({ 'jws-string': jws }, { path }))).signature).toBe('verified');
    }
    expect(await app.rows()).toHaveLength(8);
  });

  it('never rejects on Content-Type', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', '']) {
      const r = await app.post(verified40({ 'transaction-id': uuid() }), { headers: type ? { 'Content-Type': type } : {} });
      expect(r.status).toBe(200);
    }
  });

  it('answers 405 with Allow for other methods', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const r = await app.postRaw(method === 'GET' ? null : '{}', { method });
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('POST');
      expect(r.headers.get('content-type')).toBe('application/problem+json');
    }
  });

  it('answers 413 for a body over 16 KiB and stores nothing', async () => {
    const big = JSON.stringify({ ...verified40(), padding: 'x'.repeat(16 * 1024) });
    const r = await app.postRaw(big);
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({ status: 413, reason: 'body_too_large' });
    expect(await app.rows()).toHaveLength(0);
  });

  it('answers 413 from a declared Content-Length over 16 KiB, before reading the body', async () => {
    const big = JSON.stringify({ ...verified40(), padding: 'x'.repeat(16 * 1024) });
    const r = await app.postRaw(big, { headers: { 'Content-Length': String(new TextEncoder().encode(big).byteLength) } });
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({ reason: 'body_too_large' });
    expect(await app.rows()).toHaveLength(0);
  });

  it('takes a body of exactly 16 KiB', async () => {
    const body = verified40();
    const text = JSON.stringify(body);
    const padded = `${text.slice(0, -1)},"padding":"${'x'.repeat(16 * 1024 - text.length - 13)}"}`;
    expect(new TextEncoder().encode(padded).length).toBe(16 * 1024);
    expect((await receipt(await app.postRaw(padded))).signature).toBe('verified');
  });

  it('answers 404 as problem+json for unknown paths', async () => {
    const r = await app.app.request('/nope');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
  });

  it('sets security headers, and no-store on the API', async () => {
    const ingest = await app.post(verified40());
    expect(ingest.headers.get('x-content-type-options')).toBe('nosniff');
    const api = await app.app.request('/v1/keys');
    expect(api.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(api.headers.get('cache-control')).toBe('no-store');
  });

  it("gives every answer Hono's secureHeaders() set: ingest's 200 (built with them), its problems and the API's", async () => {
    // The reference: what Hono's own middleware writes on an answer.
    const probe = new Hono().use(secureHeaders());
    probe.get('/', (c) => c.body(null));
    const expected: Array<[string, string]> = [];
    (await probe.request('/')).headers.forEach((value, name) => {
      expected.push([name, value]);
    });
    expect(expected.length).toBeGreaterThanOrEqual(10);
    const body = verified40();
    const stored = await app.post(body);
    expect(stored.headers.get('content-type')).toBe('application/json');
    expect(await receipt(stored)).toMatchObject({ outcome: 'stored' });
    const duplicate = await app.post(body);
    expect(await receipt(duplicate)).toMatchObject({ outcome: 'duplicate' });
    const invalid = await app.postRaw('{"version": 4}');
    expect(invalid.status).toBe(400);
    const unknown = await app.app.request('/nope');
    const api = await app.app.request('/v1/keys');
    for (const answer of [stored, duplicate, invalid, unknown, api]) {
      for (const [name, value] of expected) expect([answer.status, name, answer.headers.get(name)]).toEqual([answer.status, name, value]);
    }
  });

  it('answers 503 with Retry-After past the in-flight cap, and serves again after', async () => {
    const { createApp } = await import('../src/http/app.js');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = createApp({
      ...app.deps,
      maxInFlight: 1,
      writer: {
        run: async (work) => {
          await gate;
          return app.writer.run(work);
        },
      },
    });
    const first = slow.request(SKAN_PATH, { method: 'POST', body: JSON.stringify(verified40()) });
    await new Promise((r) => setTimeout(r, 20));
    const second = await slow.request(SKAN_PATH, { method: 'POST', body: JSON.stringify(verified40()) });
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(await second.json()).toMatchObject({ reason: 'overloaded' });
    release();
    expect((await first).status).toBe(200);
    expect((await slow.request(SKAN_PATH, { method: 'POST', body: JSON.stringify(verified40()) })).status).toBe(200);
  });

  it('serves /healthz', async () => {
    expect((await app.app.request('/healthz')).status).toBe(200);
  });
});

describe('400: bodies that cannot be kept', () => {
  const cases: Array<[string, BodyInit, string]> = [
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 'body'],
    ['not JSON', '{"ad-network-id": ', 'body'],
    ['an empty body', '', 'body'],
    ['a JSON array', '[1,2]', 'body'],
    ['a JSON string', '"postback"', 'body'],
    ['a duplicated key', JSON.stringify(verified40()).replace('{', '{"app-id":525463029,'), 'app-id'],
    ['a duplicated key with the same value', '{"version":"4.0","version":"4.0"}', 'version'],
    ['1.5 as app-id', JSON.stringify(verified40()).replace('"app-id":525463029', '"app-id":1.5'), 'app-id'],
    ['an exponent as app-id', JSON.stringify(verified40()).replace('"app-id":525463029', '"app-id":5.25463029e8'), 'app-id'],
    ['525463029.0 as app-id', JSON.stringify(verified40()).replace('"app-id":525463029', '"app-id":525463029.0'), 'app-id'],
    ['no transaction-id', JSON.stringify({ ...verified40(), 'transaction-id': undefined }), 'transaction-id'],
    ['a numeric ad-network-id', JSON.stringify({ ...verified40(), 'ad-network-id': 7 }), 'ad-network-id'],
    ['no attribution-signature', JSON.stringify({ ...verified40(), 'attribution-signature': undefined }), 'attribution-signature'],
    ['a JWS of two parts', '{"jws-string":"abc.def"}', 'jws-string'],
    ['a JWS with padding characters', '{"jws-string":"a=.b.c"}', 'jws-string'],
    ['a JWS that is not a string', '{"jws-string":42}', 'jws-string'],
  ];
  it.each(cases)('%s', async (_, body, field) => {
    const r = await app.postRaw(body);
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    const problem = await r.json();
    expect(problem).toMatchObject({ status: 400, reason: 'invalid_postback' });
    expect(problem.problems.map((p: { field: string }) => p.field)).toContain(field);
    expect(await app.rows()).toHaveLength(0);
  });

  it('lists every problem at once', async () => {
    const r = await app.postRaw('{"app-id": 1.5}');
    const fields = (await r.json()).problems.map((p: { field: string }) => p.field);
    expect(fields).toEqual(['ad-network-id', 'transaction-id', 'attribution-signature', 'app-id']);
  });
});

describe('storage', () => {
  it('keeps the raw body byte for byte, with relay keys such as ip-address, and the parsed columns', async () => {
    const text = `{ "ip-address":"192.0.2.7",${JSON.stringify(verified40()).slice(1)}`;
    const { id } = await receipt(await app.postRaw(text));
    const [row] = await app.rows();
    expect(row).toMatchObject({
      id,
      body: text,
      protocol: 'skan',
      environment: 'production',
      version: '4.0',
      signature: 'verified',
      conversionValue: 12,
      countryCode: 'US',
      sourceIdentifier: '5239',
      didWin: true,
      postbackSequenceIndex: 0,
    });
    expect(row!.receivedAt.toISOString()).toBe('2026-11-25T12:00:00.000Z');
  });

  it('drops a leading byte-order mark and notes it', async () => {
    const text = JSON.stringify(verified40());
    const r = await receipt(await app.postRaw(new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)])));
    expect(r).toMatchObject({ signature: 'verified', reasons: ['body: leading byte-order mark dropped'] });
    expect((await app.rows())[0]!.body).toBe(text);
  });

  it('answers out-of-range unsigned values with 200 and names them', async () => {
    const r = await receipt(await app.post(verified40({ 'conversion-value': 64, 'coarse-conversion-value': 'LOW' })));
    expect(r.signature).toBe('verified');
    expect(r.reasons).toEqual([
      'conversion-value: expected an integer from 0 to 63, got the number 64; dropped',
      'coarse-conversion-value: expected "low", "medium" or "high", got the string "LOW"; dropped',
    ]);
    expect((await app.rows())[0]).toMatchObject({ conversionValue: null, coarseConversionValue: null });
  });
});

describe('outcome table', () => {
  it('verified, none verified yet: stored, claims the key', async () => {
    const r = await receipt(await app.post(verified40()));
    expect(r).toMatchObject({ outcome: 'stored', signature: 'verified' });
    expect((await app.rows())[0]!.dedupeKey).not.toBeNull();
  });

  it('verified, same unsigned values, relay keys aside: duplicate of the first row, not stored again', async () => {
    const body = verified40();
    const first = await receipt(await app.post(body));
    const again = await receipt(await app.post({ ...body, timestamp: '1700000000', 'partner-campaign-id': 'x' }));
    const retry = await receipt(await app.post(body));
    expect(again).toMatchObject({ id: first.id, outcome: 'duplicate', signature: 'verified' });
    expect(retry).toMatchObject({ id: first.id, outcome: 'duplicate' });
    expect(await app.rows()).toHaveLength(1);
  });

  it('the transaction id is compared case-insensitively', async () => {
    const body = verified40();
    const first = await receipt(await app.post(body));
    const upper = signSkan({ ...body, 'transaction-id': (body['transaction-id'] as string).toUpperCase() }, p256, '4.0');
    expect(await receipt(await app.post(upper))).toMatchObject({ id: first.id, outcome: 'duplicate' });
  });

  it('each postback-sequence-index is its own key', async () => {
    const transactionId = uuid();
    for (const index of [0, 1, 2]) {
      const body = verified40({ 'transaction-id': transactionId, 'postback-sequence-index': index, 'conversion-value': undefined });
      expect((await receipt(await app.post(body))).outcome).toBe('stored');
    }
  });

  it.each([
    ['conversion-value', 13],
    ['country-code', 'FR'],
    ['coarse-conversion-value', 'low'],
  ])('verified with a different %s: conflict, both bodies recorded, first row returned', async (field, value) => {
    const body = verified40();
    const first = await receipt(await app.post(body));
    const altered = field === 'coarse-conversion-value' ? { ...body, 'conversion-value': undefined, [field]: value } : { ...body, [field]: value };
    const conflict = await receipt(await app.post(altered));
    expect(conflict).toMatchObject({ id: first.id, outcome: 'conflict', signature: 'verified' });
    const rows = await app.rows();
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ outcome: 'conflict', firstId: first.id, dedupeKey: null, body: JSON.stringify(altered) });
    // A retry of the same conflicting copy is not a second conflict.
    expect(await receipt(await app.post(altered))).toMatchObject({ id: first.id, outcome: 'duplicate' });
    expect(await app.rows()).toHaveLength(2);
  });

  it('AAK: a different ad-interaction-type is a conflict', async () => {
    const jws = signJws({ kid: 'test-prod/0', alg: 'ES256' }, aakPayload(), p256);
    const first = await receipt(await app.post({ 'jws-string': jws, 'ad-interaction-type': 'click' }));
    const second = await receipt(await app.post({ 'jws-string': jws, 'ad-interaction-type': 'view' }));
    expect(second).toMatchObject({ id: first.id, outcome: 'conflict' });
  });

  it('AAK: production and development copies of one postback-identifier are separate keys', async () => {
    const payload = aakPayload();
    const prod = await receipt(await app.post({ 'jws-string': signJws({ kid: 'test-prod/0', alg: 'ES256' }, payload, p256) }));
    const dev = await receipt(await app.post({ 'jws-string': signJws({ kid: 'test-dev/0', alg: 'ES256' }, payload, devKey) }));
    expect([prod.outcome, dev.outcome, dev.signature]).toEqual(['stored', 'stored', 'development']);
  });

  it('invalid, byte-identical earlier copy: duplicate of that row', async () => {
    const body = forged(verified40());
    const first = await receipt(await app.post(body));
    expect(first).toMatchObject({ outcome: 'stored', signature: 'invalid' });
    expect(await receipt(await app.post(body))).toMatchObject({ id: first.id, outcome: 'duplicate', signature: 'invalid' });
    expect(await app.rows()).toHaveLength(1);
  });

  it('unverifiable, byte-identical earlier copy: duplicate; otherwise stored without claiming', async () => {
    const body = verified40({ version: '5.0' });
    const first = await receipt(await app.post(body));
    expect(first).toMatchObject({ outcome: 'stored', signature: 'unverifiable' });
    expect(await receipt(await app.post(body))).toMatchObject({ id: first.id, outcome: 'duplicate' });
    const other = await receipt(await app.post({ ...body, 'conversion-value': 1 }));
    expect(other).toMatchObject({ outcome: 'stored', signature: 'unverifiable' });
    expect((await app.rows()).map((r) => r.dedupeKey)).toEqual([null, null]);
  });

  it('invalid copies never claim the key: a forged copy first, then the real one is stored and counted', async () => {
    const real = verified40();
    const fake = await receipt(await app.post(forged({ ...real, 'conversion-value': 63 })));
    expect(fake).toMatchObject({ outcome: 'stored', signature: 'invalid' });
    const genuine = await receipt(await app.post(real));
    expect(genuine).toMatchObject({ outcome: 'stored', signature: 'verified' });
    expect(genuine.id).not.toBe(fake.id);
    const rows = await app.rows();
    expect(rows.map((r) => [r.signature, r.dedupeKey !== null])).toEqual([
      ['invalid', false],
      ['verified', true],
    ]);
  });

  it('a forged copy after the real one is stored apart and changes nothing about the first', async () => {
    const real = verified40();
    const first = await receipt(await app.post(real));
    const fake = await receipt(await app.post(forged({ ...real, 'conversion-value': 0 })));
    expect(fake).toMatchObject({ outcome: 'stored', signature: 'invalid' });
    expect(fake.id).not.toBe(first.id);
    expect((await app.rows())[0]).toMatchObject({ id: first.id, conversionValue: 12, outcome: 'stored' });
  });

  it('concurrent copies of one postback: exactly one is stored', async () => {
    const body = verified40();
    const results = await Promise.all(Array.from({ length: 20 }, () => app.post(body).then(receipt)));
    expect(results.filter((r) => r.outcome === 'stored')).toHaveLength(1);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
  });
});
