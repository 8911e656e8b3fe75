// The group-commit writer: many units per commit, failures isolated per unit, storage errors
// surfaced as 503 with Retry-After and never as a 200 for an unwritten row.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_INSTALL_MODEL } from '../src/conversion/install-date.js';
import { StorageUnavailableError } from '../src/db/db.js';
import { type NewPostbackRow, postbacks } from '../src/db/schema.js';
import { addCampaign } from '../src/db/settings.js';
import type { Settings } from '../src/db/settings-snapshot.js';
import { preparePostback } from '../src/ingest/ingest.js';
import { savePostback } from '../src/ingest/save.js';
import { countsOf } from '../src/rollup/contribution.js';
import { createTestApp, type TestApp } from './support/app.js';
import { generateKey, signSkan, skanBody } from './support/signing.js';

const key = generateKey('P-256');
let dir: string;
let app: TestApp;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skanpost-gc-'));
  app = await createTestApp({ extraKeys: key.spkiBase64, path: join(dir, 'db.sqlite') });
});
afterEach(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const body = () => signSkan(skanBody('4.0'), key, '4.0');
const campaign = (name: string) => ({ ad_network_id: 'example.skadnetwork', app_id: 1, source_identifier: '42', name });
/** The campaign names the settings hold. */
const names = (settings: Settings) => [...settings.campaignsByNetworkApp.values()].flat().map((c) => c.name);

describe('GroupCommitWriter', () => {
  it('commits the units of one event-loop turn together', async () => {
    const before = app.writer.stats.commits;
    const responses = await Promise.all(Array.from({ length: 50 }, () => app.post(body())));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(app.writer.stats.commits - before).toBeLessThan(50);
    expect(app.writer.stats.largestBatch).toBeGreaterThan(1);
    expect(await app.rows()).toHaveLength(50);
  });

  it('a unit that throws is rolled back alone; the rest of its batch commits', async () => {
    const results = await Promise.allSettled([
      app.writer.run(async (tx) => tx.db.insert(postbacks).values(row('a'))),
      app.writer.run(async (tx) => {
        await tx.db.insert(postbacks).values(row('b'));
        throw new Error('boom');
      }),
      app.writer.run(async (tx) => tx.db.insert(postbacks).values(row('c'))),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await app.rows()).map((r) => r.bodySha256)).toEqual(['a', 'c']);
    // The batch ran bare, failed, and ran again unit by unit; 'a' is written once, not twice.
    expect(app.writer.stats.isolatedRetries).toBe(1);
  });

  it('runs a batch without failures in one pass, without savepoints', async () => {
    await Promise.all(Array.from({ length: 20 }, () => app.post(body())));
    expect(app.writer.stats.isolatedRetries).toBe(0);
    expect(await app.rows()).toHaveLength(20);
  });

  it('a unit sees a setting changed by a unit before it in the same commit', async () => {
    const before = app.writer.stats.commits;
    const seen = await Promise.all([
      app.writer.run((tx) => tx.settings().then(names)),
      app.writer.run((tx) => addCampaign(tx, campaign('Spring'), new Date()).then(() => [])),
      app.writer.run((tx) => tx.settings().then(names)),
    ]);
    expect(app.writer.stats.commits - before).toBe(1);
    expect(seen).toEqual([[], [], ['Spring']]);
  });

  it('forgets settings read inside a unit that was rolled back, even when a later change reuses its revision', async () => {
    const failing = app.writer.run(async (tx) => {
      await addCampaign(tx, campaign('Rolled back'), new Date());
      expect(names(await tx.settings())).toEqual(['Rolled back']);
      throw new Error('the unit fails after its change');
    });
    await expect(failing).rejects.toThrow('the unit fails after its change');
    // The next change takes the revision the rolled-back one had: its content must be read anew.
    await app.writer.run((tx) => addCampaign(tx, campaign('Kept'), new Date()));
    expect(await app.writer.run((tx) => tx.settings().then(names))).toEqual(['Kept']);
  });

  it('answers 503 with Retry-After when the disk is full, and serves again once space returns', async () => {
    await app.post(body()); // the database has its first pages
    app.database.sqlite.exec('VACUUM'); // no free pages left over from migrations: new rows need new pages
    const pages = app.database.sqlite.pragma('page_count', { simple: true }) as number;
    app.database.sqlite.pragma(`max_page_count = ${pages}`);
    const padding = 'x'.repeat(8000); // forces new pages
    const responses = await Promise.all(Array.from({ length: 5 }, () => app.post({ ...body(), padding })));
    for (const r of responses) {
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect(await r.json()).toMatchObject({ reason: 'storage_unavailable' });
    }
    expect(await app.rows()).toHaveLength(1);

    app.database.sqlite.pragma('max_page_count = 1073741823');
    const after = await app.post({ ...body(), padding });
    expect(after.status).toBe(200);
    expect(await app.rows()).toHaveLength(2);
  });

  it('when a full disk ends the whole transaction, every unit of the batch fails with a storage error and nothing is kept', async () => {
    await app.post(body());
    app.database.sqlite.exec('VACUUM');
    const pages = app.database.sqlite.pragma('page_count', { simple: true }) as number;
    app.database.sqlite.pragma(`max_page_count = ${pages + 1}`);
    // Small postbacks a page can still take, around one that cannot fit.
    const rows: NewPostbackRow[] = [];
    for (const b of [body(), body(), { ...body(), padding: 'x'.repeat(12_000) }, body()]) {
      const prepared = await preparePostback(new TextEncoder().encode(JSON.stringify(b)), app.deps.verification, new Date());
      if (!prepared.ok) throw new Error('unexpected 400');
      rows.push(prepared.row);
    }
    const save = () => Promise.allSettled(rows.map((row) => app.writer.run((tx) => savePostback(tx, row, DEFAULT_INSTALL_MODEL))));
    const commits = app.writer.stats.commits;
    // Queued in one turn of the event loop: one batch, one transaction, which SQLite abandons.
    const failed = await save();
    expect(failed.map((r) => r.status === 'rejected' && r.reason instanceof StorageUnavailableError)).toEqual([true, true, true, true]);
    expect(app.writer.stats.commits).toBe(commits);
    expect(await app.rows()).toHaveLength(1);

    app.database.sqlite.pragma('max_page_count = 1073741823');
    expect((await save()).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(await app.rows()).toHaveLength(5);
  });

  it('maps SQLITE_BUSY to StorageUnavailableError', async () => {
    const Database = (await import('better-sqlite3')).default;
    const other = new Database(join(dir, 'db.sqlite'));
    other.pragma('busy_timeout = 0');
    app.database.sqlite.pragma('busy_timeout = 0');
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(app.writer.run(async (tx) => tx.db.run(sql`select 1`))).rejects.toBeInstanceOf(StorageUnavailableError);
      const r = await app.post(body());
      expect(r.status).toBe(503);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect((await app.post(body())).status).toBe(200);
  });

  it('refuses work after close and settles what was queued', async () => {
    const pending = app.writer.run(async (tx) => tx.db.insert(postbacks).values(row('queued')));
    await app.writer.close();
    await expect(pending).resolves.toBeDefined();
    expect((await app.rows()).map((r) => r.bodySha256)).toEqual(['queued']);
    await expect(app.writer.run(async () => 1)).rejects.toBeInstanceOf(StorageUnavailableError);
  });
});

describe("the write path's statements (bound by position on better-sqlite3)", () => {
  it('keep an absent value null and encode present ones through their columns', async () => {
    const receivedAt = new Date('2026-11-25T12:00:00Z');
    // Columns not named here are absent (undefined): stored as null.
    const full = {
      ...row('bound'),
      receivedAt,
      reasons: ['a reason'],
      redownload: null,
      didWin: true,
      decode: null,
      channel: 'direct',
    } as never;
    const [id] = await app.writer.run((tx) => tx.insertCounted([{ row: full, counts: undefined, destinationIds: [] }]));
    expect(id).toBeTypeOf('number');
    const stored = app.database.sqlite.prepare('select received_at, reasons, redownload, did_win, decode from postbacks where id = ?').get(id);
    // A null boolean stays null (drizzle would bind 0), a null JSON value null (not the text 'null').
    expect(stored).toEqual({ received_at: receivedAt.getTime(), reasons: '["a reason"]', redownload: null, did_win: 1, decode: null });
    // The same body again: skipped on the conflict, no id.
    expect(await app.writer.run((tx) => tx.insertCounted([{ row: full, counts: undefined, destinationIds: [] }]))).toEqual([undefined]);
  });

  it('add counts to the row their key names, and refuse a value missing for a placeholder rather than bind it as null', async () => {
    const counts = countsOf({ ...row('counted'), signature: 'verified', appId: 1, adNetworkId: 'example.skadnetwork', postbackSequenceIndex: 0, didWin: true } as never, 1)!;
    await app.writer.run((tx) => tx.addCounts(counts));
    await app.writer.run((tx) => tx.addCounts(counts));
    const [summed] = app.database.sqlite.prepare('select postbacks from rollups').all() as Array<{ postbacks: number }>;
    expect(summed).toEqual({ postbacks: 2 });
    const { campaign: _, ...missing } = counts.rollup as unknown as Record<string, unknown>;
    await expect(app.writer.run((tx) => tx.addCounts({ ...counts, rollup: missing as never }))).rejects.toThrow(/no value for the placeholder campaign/);
  });
});

function row(sha: string): typeof postbacks.$inferInsert {
  return { receivedAt: new Date(), protocol: 'skan', environment: 'production', signature: 'invalid', reasons: [], outcome: 'stored', bodySha256: sha, body: '{}' };
}
