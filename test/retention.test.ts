// Retention: old rows that count in no headline figure are pruned in chunks; verified rows stay
// unless a limit is set for them; reports keep what the pruned rows added.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { pruneExpired } from '../src/db/retention.js';
import { createTestApp, type TestApp } from './support/app.js';
import { aakPayload, generateKey, signJws, signSkan, skanBody } from './support/signing.js';

const key = generateKey('P-256');
const forger = generateKey('P-256');
const DAY = 86_400_000;
let clock = Date.parse('2026-01-01T00:00:00Z');
let app: TestApp;
beforeEach(async () => {
  clock = Date.parse('2026-01-01T00:00:00Z');
  app = await createTestApp({ extraKeys: `${key.spkiBase64},aak-dev:d/0=${key.spkiBase64}`, now: () => new Date(clock) });
});
afterEach(async () => {
  await app.close();
});

const kinds = () => app.database.sqlite.prepare('select signature, environment from postbacks order by id').all();
const figures = () => app.database.sqlite.prepare('select sum(postbacks) p, sum(verified) v, sum(invalid) i, sum(unverifiable) u from rollups').get();

it('prunes old invalid, unverifiable and development rows, keeps verified ones and the figures', async () => {
  await app.post(signSkan(skanBody('4.0'), key, '4.0'));
  await app.post(signSkan(skanBody('4.0'), forger, '4.0'));
  await app.post(signSkan(skanBody('4.0', { version: '5.0' }), key, '4.0'));
  await app.post({ 'jws-string': signJws({ kid: 'd/0', alg: 'ES256' }, aakPayload(), key) });
  clock += 89 * DAY;
  await app.post(signSkan(skanBody('4.0'), forger, '4.0')); // recent: stays
  const before = figures();

  const policy = { unverifiedDays: 90, verifiedDays: undefined };
  expect(await pruneExpired(app.writer, policy, new Date(clock))).toBe(0);
  clock += 2 * DAY;
  expect(await pruneExpired(app.writer, policy, new Date(clock), 2)).toBe(3); // in chunks of 2
  expect(kinds()).toEqual([
    { signature: 'verified', environment: 'production' },
    { signature: 'invalid', environment: 'production' },
  ]);
  expect(figures()).toEqual(before);

  expect(await pruneExpired(app.writer, { unverifiedDays: 90, verifiedDays: 30 }, new Date(clock))).toBe(1);
  expect(kinds()).toEqual([{ signature: 'invalid', environment: 'production' }]);
});
