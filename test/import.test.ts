// `skanpost import`: the file's order decides which copy is first, envelopes are read strictly,
// and errors point at the file's own lines.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IngestDeps } from '../src/ingest/ingest.js';
import { importFile } from '../src/node/commands/import.js';
import { createTestApp, type TestApp } from './support/app.js';
import { generateKey, signSkan, skanBody, uuid } from './support/signing.js';

const key = generateKey('P-256');
let dir: string;
let app: TestApp;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skanpost-import-'));
  app = await createTestApp({ extraKeys: key.spkiBase64 });
});
afterEach(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const write = (lines: string[]) => {
  const path = join(dir, 'in.ndjson');
  writeFileSync(path, lines.join('\n'));
  return path;
};

describe('order', () => {
  it('the first copy in the file is the one kept, however long its verification takes', async () => {
    const transactionId = uuid();
    const first = signSkan(skanBody('4.0', { 'transaction-id': transactionId, 'conversion-value': 1 }), key, '4.0');
    const second = signSkan(skanBody('4.0', { 'transaction-id': transactionId, 'conversion-value': 2 }), key, '4.0');
    // Both carry the same signed message; the first verification to start is held back, so the
    // second copy finishes verifying long before the first.
    const { verifier } = app.deps.verification;
    let calls = 0;
    const slowFirst: IngestDeps = {
      ...app.deps,
      verification: {
        ...app.deps.verification,
        verifier: {
          verify: async (...args) => {
            if (calls++ === 0) await new Promise((resolve) => setTimeout(resolve, 100));
            return verifier.verify(...args);
          },
        },
      },
    };
    const summary = await importFile(write([JSON.stringify(first), JSON.stringify(second)]), slowFirst);
    expect(summary.outcomes).toEqual({ stored: 1, conflict: 1 });
    const rows = await app.rows();
    const kept = rows.find((r) => r.outcome === 'stored')!;
    const conflict = rows.find((r) => r.outcome === 'conflict')!;
    expect(kept.conversionValue).toBe(1);
    expect(conflict.conversionValue).toBe(2);
    expect(conflict.firstId).toBe(kept.id);
  });
});

describe('envelopes and errors', () => {
  it('names unknown envelope keys and counts line numbers as the file does', async () => {
    const body = signSkan(skanBody('4.0'), key, '4.0');
    const summary = await importFile(
      write([
        '',
        JSON.stringify({ received_at: '2026-06-10T10:00:00Z', body, colour: 'red', size: 1 }),
        '',
        '',
        JSON.stringify({ received_at: 'yesterday', body }),
        JSON.stringify({ received_at: '2026-06-10T10:00:00Z', raw: 5 }),
        JSON.stringify({ received_at: '2026-06-10T10:00:00Z' }),
        '{"not": "a postback"}',
      ]),
      app.deps,
    );
    expect(summary.lines).toBe(5);
    expect(summary.errors).toEqual([
      {
        line: 2,
        problems: [
          { field: 'colour', reason: expect.any(String) },
          { field: 'size', reason: expect.any(String) },
        ],
      },
      { line: 5, problems: [{ field: 'received_at', reason: 'must be an RFC 3339 time' }] },
      { line: 6, problems: [{ field: 'raw', reason: expect.any(String) }] },
      { line: 7, problems: [{ field: 'body', reason: expect.any(String) }] },
      { line: 8, problems: [expect.objectContaining({ field: 'ad-network-id' }), expect.anything(), expect.anything()] },
    ]);
  });

  it('keeps raw exactly and re-serializes a body with its numbers as written', async () => {
    const signed = signSkan(skanBody('4.0'), key, '4.0');
    const raw = JSON.stringify(signed).replace('"app-id":525463029', '"app-id":525463029,"extra":5.0,"big":1e400');
    const nested = `{"deep":${'['.repeat(62)}${']'.repeat(62)}}`;
    const withNested = raw.replace('{', `{"nest":${nested},`);
    const summary = await importFile(
      write([
        JSON.stringify({ received_at: '2026-06-10T10:00:00Z', raw: withNested }),
        `{"received_at":"2026-06-10T10:00:00Z","body":${raw.replace(/transaction-id":"[^"]+/, `transaction-id":"${uuid()}`)}}`,
      ]),
      app.deps,
    );
    expect(summary.errors).toEqual([]);
    const rows = await app.rows();
    expect(rows[0]!.body).toBe(withNested);
    expect(rows[1]!.body).toContain('"extra":5.0,"big":1e400');
  });
});

describe('export → import', () => {
  it('gives identical stored bodies and reports, whatever the bodies held', async () => {
    const { PARITY_ADMIN_KEY, PARITY_EXTRA_KEYS, paritySetup } = await import('./support/parity-scenario.js');
    const fixture = (await import('../fixtures/parity/postbacks.json', { with: { type: 'json' } })).default;
    const { runCli } = await import('../src/node/cli.js');
    const extraKeys = `${PARITY_EXTRA_KEYS},${key.spkiBase64}`;
    const clock = { at: new Date('2026-11-01T00:00:00Z') };
    const open = (name: string) => createTestApp({ path: join(dir, name), extraKeys, adminKey: PARITY_ADMIN_KEY, now: () => clock.at });
    const admin = { Authorization: `Bearer ${PARITY_ADMIN_KEY}` };

    const source = await open('source.db');
    expect(await paritySetup((r) => source.app.fetch(r))).toEqual([201, 201]);
    const sent: string[] = fixture.postbacks.map(({ body }) => JSON.stringify(body));
    // Bodies a re-serializing export would change: a fraction where Apple sends integers, a number
    // beyond a double, a 30-digit app id, a byte-order mark, the deepest nesting allowed, an
    // escaped lone surrogate, text beyond ASCII.
    const text = (overrides: Record<string, unknown> = {}) => JSON.stringify(signSkan(skanBody('4.0', { 'app-id': 525463029, ...overrides }), key, '4.0'));
    sent.push(
      text().replace('{', '{"conversion-value":5.0,'),
      text().replace('{', '{"big":1e400,'),
      text().replace(/"app-id":\d+/, '"app-id":123456789012345678901234567890'),
      `\ufeff${text({ 'conversion-value': 3 })}`,
      text().replace('{', `{"nest":${'['.repeat(63)}${']'.repeat(63)},`),
      text().replace('{', '{"note":"\\ud800 alone","place":"Zürich ✓",'),
    );
    for (const [i, body] of sent.entries()) {
      clock.at = new Date(fixture.postbacks[i]?.received_at ?? `2026-11-05T0${i - fixture.postbacks.length}:00:00.000Z`);
      const path = body.includes('jws-string') ? '/.well-known/appattribution/report-attribution/' : '/.well-known/skadnetwork/report-attribution/';
      expect((await source.postRaw(body, { path })).status).toBe(200);
    }
    const queries = [
      'reports/campaigns?from=2026-11-01&to=2026-11-06&group_by=date,protocol,version,campaign,window,conversion_value,signature',
      'reports/campaigns?from=2026-11-01&to=2026-11-06&group_by=campaign,coarse_conversion_value,country_code&format=csv',
      'reports/campaigns?from=2026-10-25&to=2026-11-06&tz=Asia/Kolkata&date_basis=install&group_by=date,ad_network_id',
      'reports/campaigns?from=2026-11-01&to=2026-11-06&environment=development&group_by=protocol',
      'reports/events?from=2026-11-01&to=2026-11-06&group_by=event,window',
    ];
    const figures = async (app: TestApp) =>
      Promise.all(queries.map(async (q) => (await (await app.app.request(`/v1/${q}`, { headers: admin })).text()).replace(/"generated_at":"[^"]+"/, '')));
    // Ids are not compared: an insert that dedupe ignores may still use up an id.
    const stored = (app: TestApp) =>
      app.database.sqlite
        .prepare(
          'select p.received_at, p.body, p.body_sha256, p.signature, p.outcome, f.body_sha256 as first from postbacks p left join postbacks f on f.id = p.first_id order by p.id',
        )
        .all();
    const exported = await (await source.app.request('/v1/postbacks?format=ndjson', { headers: admin })).text();
    const before = { figures: await figures(source), rows: stored(source) };
    expect((before.rows as unknown[]).length).toBeGreaterThan(fixture.postbacks.length);
    await source.close();

    const target = await open('target.db');
    await paritySetup((r) => target.app.fetch(r));
    await target.close();
    writeFileSync(join(dir, 'export.ndjson'), exported);
    const io = { stdout: () => {}, stderr: () => {}, stdin: () => new Uint8Array(), env: { SKANPOST_DB: join(dir, 'target.db'), SKANPOST_EXTRA_KEYS: extraKeys } };
    expect(await runCli(['import', join(dir, 'export.ndjson')], io)).toBe(0);
    const copy = await open('target.db');
    expect(stored(copy)).toEqual(before.rows);
    expect(await figures(copy)).toEqual(before.figures);
    await copy.close();
  });
});
