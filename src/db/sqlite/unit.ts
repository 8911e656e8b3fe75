// The write unit on better-sqlite3. A unit runs inside a transaction the Node writer holds (group
// commit), so it reads what it just wrote and acts on it; statements it runs thousands of times a
// second are prepared once per connection, because building their SQL costs more than running it.
import { eq, getTableColumns, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from '../db.js';
import type { Job } from '../jobs.js';
import { upsertMmpRollup } from '../mmp.js';
import { prepared } from '../prepared.js';
import { upsertEvent, upsertRollup } from '../rollups.js';
import { deliveries, maintenanceJobs, mmpPostbacks, postbacks } from '../schema.js';
import { revisionQuery, type Settings, settingsOf, settingsQueries } from '../settings-snapshot.js';
import type { ChunkChange, Counts, JobAdvance, MmpCounts, Unit, UnsavedMmpPostback, UnsavedPostback } from '../store.js';

const COLUMNS = getTableColumns(postbacks);
const INSERT_COLUMNS = Object.keys(COLUMNS).filter((c) => c !== 'id') as Array<keyof UnsavedPostback>;

// drizzle maps a placeholder's value through its column even when the value is null, and a null
// boolean comes out as 0 (false), a null JSON value as the text 'null'. So the placeholders here
// are raw and `driverValues` maps the row itself, keeping null null.
const insertPostback = (db: Db) =>
  db
    .insert(postbacks)
    .values(Object.fromEntries(INSERT_COLUMNS.map((c) => [c, sql`${sql.placeholder(c)}`])) as never)
    .onConflictDoNothing()
    .returning({ id: postbacks.id })
    .prepare();

const driverValues = (row: UnsavedPostback) =>
  Object.fromEntries(INSERT_COLUMNS.map((c) => [c, row[c] === null || row[c] === undefined ? null : COLUMNS[c].mapToDriverValue(row[c])]));

// One prepared row per copy rather than a multi-row insert built per postback: on the write path,
// building the statement cost more than running it.
const MMP_COLUMNS = getTableColumns(mmpPostbacks);
const MMP_INSERT_COLUMNS = Object.keys(MMP_COLUMNS).filter((c) => c !== 'id') as Array<keyof UnsavedMmpPostback>;

const insertMmpPostback = (db: Db) =>
  db
    .insert(mmpPostbacks)
    .values(Object.fromEntries(MMP_INSERT_COLUMNS.map((c) => [c, sql`${sql.placeholder(c)}`])) as never)
    .onConflictDoNothing()
    .returning({ id: mmpPostbacks.id })
    .prepare();

const mmpDriverValues = (row: UnsavedMmpPostback) =>
  Object.fromEntries(MMP_INSERT_COLUMNS.map((c) => [c, row[c] === null || row[c] === undefined ? null : MMP_COLUMNS[c].mapToDriverValue(row[c])]));

const enqueueMmp = (db: Db) =>
  db
    .insert(deliveries)
    .values({
      mmpPostbackId: sql.placeholder('mmpPostbackId'),
      destinationId: sql.placeholder('destinationId'),
      state: 'pending',
      nextAttemptAt: sql.placeholder('now'),
      createdAt: sql.placeholder('now'),
    })
    .onConflictDoNothing()
    .prepare();

const enqueueOne = (db: Db) =>
  db
    .insert(deliveries)
    .values({
      postbackId: sql.placeholder('postbackId'),
      destinationId: sql.placeholder('destinationId'),
      state: 'pending',
      nextAttemptAt: sql.placeholder('now'),
      createdAt: sql.placeholder('now'),
    })
    .onConflictDoNothing()
    .prepare();

export class SqliteUnit implements Unit {
  private loaded: Settings | undefined;

  constructor(readonly db: Db) {}

  async settings(): Promise<Settings> {
    // One indexed read per unit: another connection (the admin API's) may have changed a setting.
    const row = await prepared(this.db, 'settingsRevision', (d) => revisionQuery(d).prepare()).get();
    const revision = row?.revision ?? 0;
    if (this.loaded?.revision !== revision) {
      const [schemas, mappings, enabled, linkRows, partnerRows] = settingsQueries(this.db);
      this.loaded = settingsOf(revision, [await schemas, await mappings, await enabled, await linkRows, await partnerRows]);
    }
    return this.loaded;
  }

  async batch(statements: ReadonlyArray<BatchItem<'sqlite'>>): Promise<unknown[]> {
    const results: unknown[] = [];
    for (const statement of statements) results.push(await statement);
    return results;
  }

  async insertCounted(row: UnsavedPostback, counts: Counts | undefined, destinationIds: readonly number[]): Promise<number | undefined> {
    const created = await prepared(this.db, 'insertPostback', insertPostback).get(driverValues(row));
    if (!created) return undefined;
    if (counts) await this.addCounts(counts);
    await this.enqueue(created.id, destinationIds, row.receivedAt);
    return created.id;
  }

  async insertMmpCounted(row: UnsavedMmpPostback, counts: MmpCounts, destinationIds: readonly number[]): Promise<number | undefined> {
    const created = await prepared(this.db, 'insertMmpPostback', insertMmpPostback).get(mmpDriverValues(row));
    if (!created) return undefined;
    await prepared(this.db, 'upsertMmpRollup', upsertMmpRollup).run(counts);
    for (const destinationId of destinationIds) await prepared(this.db, 'enqueueMmp', enqueueMmp).run({ mmpPostbackId: created.id, destinationId, now: row.receivedAt });
    return created.id;
  }

  async addCounts(counts: Counts): Promise<void> {
    await prepared(this.db, 'upsertRollup', upsertRollup).run(counts.rollup);
    for (const event of counts.events) await prepared(this.db, 'upsertEvent', upsertEvent).run(event);
  }

  async enqueue(postbackId: number, destinationIds: readonly number[], now: Date): Promise<void> {
    for (const destinationId of destinationIds) await prepared(this.db, 'enqueueDelivery', enqueueOne).run({ postbackId, destinationId, now });
  }

  // The job was read inside this same transaction, so it still stands where it says.
  async applyChunk(job: Job, changes: readonly ChunkChange[], advance: JobAdvance): Promise<void> {
    for (const change of changes) {
      if (change.remove) await this.addCounts(change.remove);
      await this.db.update(postbacks).set(change.set).where(eq(postbacks.id, change.id));
      if (change.add) await this.addCounts(change.add);
    }
    await this.db.update(maintenanceJobs).set(advance).where(eq(maintenanceJobs.id, job.id));
  }
}
