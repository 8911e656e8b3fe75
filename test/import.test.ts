// `skanpost import`: the file's order decides which copy is first, envelopes are read strictly,
// and errors point at the file's own lines.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importFile } from '../src/node/commands/import.js';
import type { IngestDeps } from '../src/ingest/ingest.js';
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
      { line: 2, problems: [{ field: 'colour', reason: expect.any(String) }, { field: 'size', reason: expect.any(String) }] },
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
