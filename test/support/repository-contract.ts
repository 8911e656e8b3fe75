// The repository contract: what every storage driver must do, written once and run on
// better-sqlite3 (test/repository.test.ts) and on D1 inside workerd (test/workers/repository.test.ts).
// Runtime-neutral: no Node modules, rows built directly (verification is not the repository's job).
import { and, eq, sql } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import schemaFixture from '../../fixtures/conversion-schema.json' with { type: 'json' };
import { DEFAULT_INSTALL_MODEL } from '../../src/conversion/install-date.js';
import type { Db } from '../../src/db/db.js';
import { pendingJobs } from '../../src/db/jobs.js';
import { claimDue, replayDeliveries, settleAttempt } from '../../src/db/outbox.js';
import { pruneExpired } from '../../src/db/retention.js';
import { deliveries, maintenanceJobs, type NewPostbackRow, postbackCopies, postbacks, rollups, writeMarks } from '../../src/db/schema.js';
import { addSchema, deleteSchema, listSchemas } from '../../src/db/settings.js';
import type { Writer } from '../../src/db/store.js';
import { DestinationInput } from '../../src/forward/destination-input.js';
import { backfill, createDestination } from '../../src/forward/destinations.js';
import { sha256Hex } from '../../src/hash.js';
import { savePostback } from '../../src/ingest/save.js';
import { runJobChunk, runPendingJobs } from '../../src/maintenance/jobs.js';
import { dedupeKey } from '../../src/postback/dedupe.js';
import { emptyFields, type Inspection, type PostbackFields } from '../../src/postback/types.js';

export interface Store {
  db: Db;
  writer: Writer;
}

/** Skips on a driver, each with the reason; the contract lists them so none is silent. */
export type Skips = Partial<Record<string, string>>;

const APP = 525463029;
const NOW = new Date('2026-11-20T12:00:00Z');
let serial = 0;

/** A stored-ready row as ingest builds it, for a verdict and fields of the test's choosing. */
export async function postbackRow(
  options: { signature?: Inspection['signature']; fields?: Partial<PostbackFields>; receivedAt?: Date; body?: string } = {},
): Promise<NewPostbackRow> {
  serial++;
  const fields: PostbackFields = {
    ...emptyFields(),
    adNetworkId: 'contract.skadnetwork',
    transactionId: `00000000-0000-4000-8000-${serial.toString(16).padStart(12, '0')}`,
    appId: APP,
    sourceIdentifier: '5239',
    postbackSequenceIndex: 0,
    redownload: false,
    didWin: true,
    fidelityType: 1,
    conversionValue: 12,
    ...options.fields,
  };
  const inspection: Inspection = {
    protocol: 'skan',
    version: '4.0',
    environment: 'production',
    signature: options.signature ?? 'verified',
    reasons: [],
    key: 'contract',
    message: null,
    fields,
  };
  const body = options.body ?? JSON.stringify({ ...fields, serial });
  return {
    receivedAt: options.receivedAt ?? NOW,
    protocol: 'skan',
    outcome: 'stored',
    dedupeKey: dedupeKey(inspection),
    bodySha256: sha256Hex(body),
    body,
    environment: 'production',
    version: '4.0',
    signature: inspection.signature,
    reasons: [],
    keyId: inspection.key,
    ...fields,
  };
}

const sum = async (db: Db, column: 'postbacks' | 'conflicts' | 'installs') =>
  Number((await db.get<{ n: number | null }>(sql`select sum(${sql.identifier(column)}) as n from ${rollups}`))?.n ?? 0);

export function repositoryContract(driver: string, open: () => Promise<Store>, skips: Skips = {}): void {
  const test = (name: string, body: () => Promise<void>) => (skips[name] ? it.skip(`${name} (skipped on ${driver}: ${skips[name]})`, body) : it(name, body));
  let store: Store;
  const save = (row: NewPostbackRow) => store.writer.run((tx) => savePostback(tx, row, DEFAULT_INSTALL_MODEL));

  describe(`repository contract on ${driver}`, () => {
    beforeEach(async () => {
      store = await open();
    });

    test('stores the first copy, answers duplicate for a resend and conflict for other values', async () => {
      const first = await postbackRow();
      const stored = await save(first);
      expect(stored.outcome).toBe('stored');
      expect(await save(first)).toEqual({ id: stored.id, outcome: 'duplicate' });
      const altered = { ...first, conversionValue: 40, body: `${first.body} `, bodySha256: sha256Hex(`${first.body} `) };
      expect(await save(altered)).toEqual({ id: stored.id, outcome: 'conflict' });
      // The conflicting body again: kept once, so now a duplicate of the first copy.
      expect(await save(altered)).toEqual({ id: stored.id, outcome: 'duplicate' });
      // A conflict changes no figure but `conflicts`.
      expect(await sum(store.db, 'postbacks')).toBe(1);
      expect(await sum(store.db, 'conflicts')).toBe(1);
      expect(await sum(store.db, 'installs')).toBe(1);
      expect(await store.db.select().from(writeMarks)).toEqual([]);
    });

    test('an unverified copy never claims the dedupe key', async () => {
      const genuine = await postbackRow();
      const forged = { ...genuine, signature: 'invalid' as const, dedupeKey: null, body: `${genuine.body}\n`, bodySha256: sha256Hex(`${genuine.body}\n`) };
      expect((await save(forged)).outcome).toBe('stored');
      expect((await save(genuine)).outcome).toBe('stored');
      expect(await sum(store.db, 'installs')).toBe(1);
    });

    test('copies racing in at once are counted once', async () => {
      const row = await postbackRow();
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => save(row)));
      expect(outcomes.filter((o) => o.outcome === 'stored')).toHaveLength(1);
      expect(new Set(outcomes.map((o) => o.id)).size).toBe(1);
      expect(await sum(store.db, 'postbacks')).toBe(1);
    });

    test('queues a copy per destination with the postback, claims it once under a lease', async () => {
      const destination = await store.writer.run((tx) => createDestination(tx, DestinationInput.parse({ name: 'mmp', url: 'http://127.0.0.1:9/postbacks' }), NOW));
      const { id } = await save(await postbackRow());
      const queued = await store.db.select().from(deliveries);
      expect(queued.map((d) => [d.postbackId, d.destinationId, d.state])).toEqual([[id, destination.id, 'pending']]);
      const [claimed] = await store.writer.run((tx) => claimDue(tx.db, NOW, 60_000, 10, [destination.id]));
      expect(claimed?.postbackId).toBe(id);
      expect(await store.writer.run((tx) => claimDue(tx.db, NOW, 60_000, 10, [destination.id]))).toEqual([]);
      const result = { state: 'delivered' as const, status: 200, error: null, latencyMs: 3, nextAttemptAt: NOW };
      expect(await store.writer.run((tx) => settleAttempt(tx.db, { ...claimed!, claimedUntil: new Date(0) }, result, NOW))).toBe(false);
      expect(await store.writer.run((tx) => settleAttempt(tx.db, claimed!, result, NOW))).toBe(true);
    });

    test('backfill and replay handle more rows than one statement may bind', async () => {
      for (let i = 0; i < 130; i++) await save(await postbackRow());
      const destination = await store.writer.run((tx) => createDestination(tx, DestinationInput.parse({ name: 'late', url: 'http://127.0.0.1:9/' }), NOW));
      const step = await store.writer.run((tx) => backfill(tx, destination, new Date(0), NOW));
      expect(step).toMatchObject({ queued: 130, done: true });
      const ids = (await store.db.select({ id: deliveries.id }).from(deliveries)).map((d) => d.id);
      await store.db.update(deliveries).set({ state: 'dead' });
      expect(await store.writer.run((tx) => replayDeliveries(tx, ids, NOW))).toBe(130);
    });

    test('schema versions count up; a change queues one re-derive that the aggregates follow', async () => {
      const row = await postbackRow({ fields: { conversionValue: 12 } });
      await save(row);
      const first = await store.writer.run((tx) => addSchema(tx, APP, { ...schemaFixture, effective_from: '2026-01-01T00:00:00Z' } as never, NOW));
      const second = await store.writer.run((tx) => addSchema(tx, APP, { ...schemaFixture, effective_from: '2026-01-02T00:00:00Z' } as never, NOW));
      expect([first.version, second.version]).toEqual([1, 2]);
      expect((await pendingJobs(store.db)).filter((j) => j.kind === 'rederive')).toHaveLength(1);
      expect(await store.writer.run((tx) => deleteSchema(tx, APP, 99, NOW))).toBe(false);
      await runPendingJobs(store.db, store.writer, DEFAULT_INSTALL_MODEL, () => NOW, 50);
      const [stored] = await store.db.select().from(postbacks);
      expect(stored!.decode).not.toBeNull();
      expect(Number((await store.db.get<{ n: number }>(sql`select sum(revenue_max_cents) as n from ${rollups}`))?.n)).toBeGreaterThan(0);
      expect(await sum(store.db, 'postbacks')).toBe(1);
      expect((await listSchemas(store.db, APP)).map((s) => s.version)).toEqual([1, 2]);
    });

    test('two runs of one job chunk apply it once', async () => {
      for (let i = 0; i < 5; i++) await save(await postbackRow());
      await store.writer.run((tx) => addSchema(tx, APP, { ...schemaFixture, effective_from: '2026-01-01T00:00:00Z' } as never, NOW));
      const [job] = await pendingJobs(store.db);
      await Promise.all([runJobChunk(store.writer, job!, DEFAULT_INSTALL_MODEL, NOW, 10), runJobChunk(store.writer, job!, DEFAULT_INSTALL_MODEL, NOW, 10)]);
      expect(await sum(store.db, 'postbacks')).toBe(5);
      // Value 12 decodes to at most 9.99 USD by the fixture schema: five rows, once each.
      expect(Number((await store.db.get<{ n: number }>(sql`select sum(revenue_max_cents) as n from ${rollups}`))?.n)).toBe(5 * 999);
      const [done] = await store.db.select().from(maintenanceJobs).where(eq(maintenanceJobs.id, job!.id));
      expect(done!.doneAt).not.toBeNull();
    });

    test('retention prunes old unverified rows with their deliveries, in chunks, and keeps the figures', async () => {
      const old = new Date(NOW.getTime() - 100 * 86_400_000);
      await store.writer.run((tx) => createDestination(tx, DestinationInput.parse({ name: 'all', url: 'http://127.0.0.1:9/', filters: { verified_only: false } }), NOW));
      for (let i = 0; i < 7; i++) await save(await postbackRow({ signature: 'invalid', receivedAt: old }));
      await save(await postbackRow({ receivedAt: old }));
      const before = await sum(store.db, 'postbacks');
      expect(await pruneExpired(store.writer, { unverifiedDays: 90, verifiedDays: undefined }, NOW, 3)).toBe(7);
      const left = await store.db.select().from(postbacks);
      expect(left.map((p) => p.signature)).toEqual(['verified']);
      expect(
        await store.db
          .select()
          .from(deliveries)
          .where(and(eq(deliveries.postbackId, left[0]!.id))),
      ).toHaveLength(1);
      expect((await store.db.select().from(deliveries)).length).toBe(1);
      expect(await sum(store.db, 'postbacks')).toBe(before);
      // A verified transaction's later copy goes with it once verified rows expire.
      const verified = await postbackRow({ receivedAt: old });
      const kept = await save(verified);
      expect(await save({ ...verified, receivedAt: NOW, channel: 'relay:net' })).toEqual({ id: kept.id, outcome: 'duplicate' });
      expect(await store.db.select().from(postbackCopies)).toEqual([expect.objectContaining({ postbackId: kept.id, channel: 'relay:net' })]);
      expect(await pruneExpired(store.writer, { unverifiedDays: 90, verifiedDays: 90 }, NOW, 3)).toBe(2);
      expect(await store.db.select().from(postbackCopies)).toEqual([]);
    });
  });
}
