// Hostile input at the ingest endpoint: whatever arrives, never a 5xx or a crash, never a row
// for a 400, and never a changed figure from a replay with altered unsigned values.

import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { generateKey, signSkan, skanBody } from './support/signing.js';

const key = generateKey('P-256');
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ extraKeys: key.spkiBase64 });
});
afterAll(async () => {
  await app.close();
});

const count = () => app.database.sqlite.prepare('select count(*) as n from postbacks').get() as { n: number };

async function post(body: Uint8Array | string) {
  const before = count().n;
  const response = await app.postRaw(typeof body === 'string' ? body : new Uint8Array(body));
  expect(response.status).toBeLessThan(500);
  const after = count().n;
  if (response.status === 400 || response.status === 413) expect(after).toBe(before);
  if (response.status !== 200) expect(response.headers.get('content-type')).toBe('application/problem+json');
  return response;
}

const signed = signSkan(skanBody('4.0', { 'conversion-value': 5 }), key, '4.0');
const signedText = JSON.stringify(signed);

describe('hostile input', () => {
  it('random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => void (await post(bytes))),
      { numRuns: 300 },
    );
  });

  it('truncated and spliced postbacks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(signedText.length), fc.nat(signedText.length), fc.string({ maxLength: 20 }), async (a, b, junk) => {
        await post(signedText.slice(0, Math.min(a, b)) + junk + signedText.slice(Math.max(a, b)));
      }),
      { numRuns: 300 },
    );
  });

  it('any JSON value in any field, unicode included, prototype keys included', async () => {
    const field = fc.constantFrom(...Object.keys(signed), '__proto__', 'constructor', 'prototype', 'jws-string', 'ip-address');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(field, fc.jsonValue({ maxDepth: 3 })), { maxLength: 6 }), async (changes) => {
        const body: Record<string, unknown> = { ...signed };
        for (const [k, v] of changes) Object.defineProperty(body, k, { value: v, enumerable: true, configurable: true, writable: true });
        await post(JSON.stringify(body));
      }),
      { numRuns: 300 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('huge numbers, deep nesting and long strings', async () => {
    for (const body of [
      signedText.replace('"app-id":525463029', `"app-id":${'9'.repeat(400)}`),
      signedText.replace('"conversion-value":5', `"conversion-value":1e999`),
      `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      JSON.stringify({ ...signed, 'ad-network-id': 'x'.repeat(15_000) }),
      JSON.stringify({ ...signed, 'transaction-id': '\u0000\ud800\uffff😀' }),
    ]) {
      await post(body);
    }
  });

  it('replays with altered unsigned values change no figure, at scale', async () => {
    const figures = () =>
      app.database.db.all(sql`select sum(postbacks) p, sum(verified) v, sum(null_values) n, sum(coarse_low + coarse_medium + coarse_high) c, sum(installs) i from rollups`);
    const originals = Array.from({ length: 50 }, (_, i) => signSkan(skanBody('4.0', { 'conversion-value': i }), key, '4.0'));
    for (const body of originals) expect((await post(JSON.stringify(body))).status).toBe(200);
    const before = await figures();
    const conflictsBefore = (app.database.sqlite.prepare('select sum(conflicts) as c from rollups').get() as { c: number }).c;
    let replays = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...originals),
        fc.record({
          'conversion-value': fc.option(fc.integer({ min: -5, max: 70 })),
          'coarse-conversion-value': fc.option(fc.constantFrom('low', 'medium', 'high', 'LOW')),
          'country-code': fc.option(fc.constantFrom('US', 'FR', 'zz')),
        }),
        async (original, unsigned) => {
          const replay = { ...original, ...Object.fromEntries(Object.entries(unsigned).filter(([, v]) => v !== null)) };
          const response = await post(JSON.stringify(replay));
          expect(['duplicate', 'conflict']).toContain((await response.json()).outcome);
          replays++;
        },
      ),
      { numRuns: 500 },
    );
    expect(await figures()).toEqual(before);
    const conflicts = (app.database.sqlite.prepare('select sum(conflicts) as c from rollups').get() as { c: number }).c;
    expect(conflicts - conflictsBefore).toBeLessThanOrEqual(replays);
  });
});
