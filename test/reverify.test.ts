// `skanpost reverify`: rows kept as invalid or unverifiable get verified once the key is known,
// and then take their place in dedupe as if they had just arrived.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runCli } from '../src/node/cli.js';
import { createTestApp } from './support/app.js';
import { aakPayload, generateKey, signJws, signSkan, skanBody } from './support/signing.js';

const late = generateKey('P-256');
const stranger = generateKey('P-256');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'skanpost-reverify-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[], env: Record<string, string>) {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), stdin: () => new Uint8Array(), env });
  return { code, out, err };
}

it('re-verifies stored rows with a newly trusted key and settles their dedupe outcome', async () => {
  const path = join(dir, 'skanpost.db');
  const app = await createTestApp({ path }); // Apple's keys only
  const base = skanBody('4.0');
  const a = signSkan({ ...base, 'conversion-value': 1 }, late, '4.0');
  const b = signSkan({ ...base, 'conversion-value': 2 }, late, '4.0');
  const c = signSkan(skanBody('4.0'), stranger, '4.0');
  const d = signSkan(skanBody('4.0', { version: '5.0' }), late, '4.0');
  const e = { 'jws-string': signJws({ kid: 'late-kid/0', alg: 'ES256' }, aakPayload(), late) };
  for (const body of [a, b, c, d, e]) await app.post(body);
  expect((await app.rows()).map((r) => r.signature)).toEqual(['invalid', 'invalid', 'invalid', 'unverifiable', 'unverifiable']);
  await app.close();

  const env = { SKANPOST_DB: path, SKANPOST_EXTRA_KEYS: `${late.spkiBase64},aak:late-kid/0=${late.spkiBase64}` };
  const run = await cli(['reverify'], env);
  expect(run.code, run.err).toBe(0);
  expect(JSON.parse(run.out)).toEqual({ checked: 5, checked_by_verdict: { invalid: 3, unverifiable: 2 }, changed: 3, unchanged: 2, now: { verified: 3 } });

  const reopened = await createTestApp({ path });
  const rows = await reopened.rows();
  expect(rows.map((r) => [r.signature, r.outcome])).toEqual([
    ['verified', 'stored'],
    ['verified', 'conflict'],
    ['invalid', 'stored'],
    ['unverifiable', 'stored'], // no recipe for 5.0 yet
    ['verified', 'stored'],
  ]);
  expect(rows[0]!.dedupeKey).not.toBeNull();
  expect(rows[1]).toMatchObject({ firstId: rows[0]!.id, dedupeKey: null });
  expect(rows[4]).toMatchObject({ keyId: 'late-kid/0', environment: 'production' });

  // A later copy now finds the key claimed by the re-verified row.
  await reopened.close();
  const withKey = await createTestApp({ path, extraKeys: env.SKANPOST_EXTRA_KEYS });
  const response = await withKey.post(a);
  expect(await response.json()).toMatchObject({ id: rows[0]!.id, outcome: 'duplicate' });
  await withKey.close();

  // Nothing left to change: a second run reports zero.
  expect(JSON.parse((await cli(['reverify'], env)).out)).toMatchObject({ checked: 2, changed: 0 });
});

it('reports a bad SKANPOST_EXTRA_KEYS as a usage error', async () => {
  const run = await cli(['reverify'], { SKANPOST_DB: join(dir, 'x.db'), SKANPOST_EXTRA_KEYS: 'aak:broken' });
  expect(run.code).toBe(2);
  expect(run.err).toContain('SKANPOST_EXTRA_KEYS entry 1');
});
