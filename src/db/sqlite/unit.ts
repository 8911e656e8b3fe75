// The write unit on better-sqlite3. A unit runs inside a transaction the Node writer holds (group
// commit), so it reads what it just wrote and acts on it; statements it runs thousands of times a
// second are prepared once per connection, because building their SQL costs more than running it.
import { type Column, eq, getTableColumns, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from '../db.js';
import type { Job } from '../jobs.js';
import { upsertMmpRollup } from '../mmp.js';
import { prepared } from '../prepared.js';
import { upsertEvent, upsertRollup } from '../rollups.js';
import { deliveries, maintenanceJobs, mmpPostbacks, postbacks } from '../schema.js';
import { revisionQuery, type Settings, settingsOf, settingsQueries } from '../settings-snapshot.js';
import type { ChunkChange, CountedInsert, Counts, JobAdvance, MmpCounts, Unit, UnsavedMmpPostback } from '../store.js';

// drizzle maps a placeholder's value through its column even when the value is null, and a null
// boolean comes out as 0 (false), a null JSON value as the text 'null'. So the placeholders here
// are raw and `values` maps the row itself, keeping null null.
/** A prepared insert of a whole row but its id, skipped on a conflict, answering the new id. */
function rowInsert(table: typeof postbacks | typeof mmpPostbacks) {
  const columns = getTableColumns(table) as Record<string, Column>;
  const names = Object.keys(columns).filter((c) => c !== 'id');
  const nulls = Object.fromEntries(names.map((c) => [c, null]));
  return {
    statement: (db: Db) =>
      db
        .insert(table)
        .values(Object.fromEntries(names.map((c) => [c, sql`${sql.placeholder(c)}`])) as never)
        .onConflictDoNothing()
        .returning({ id: table.id })
        .prepare(),
    // Filled in from a template of every column: an object built key by key, or by fromEntries,
    // costs three times as much per postback.
    values: (row: object) => {
      const given = row as Record<string, unknown>;
      const out: Record<string, unknown> = Object.assign({}, nulls);
      for (const c of names) {
        const value = given[c];
        if (value !== null && value !== undefined) out[c] = columns[c]!.mapToDriverValue(value);
      }
      return out;
    },
  };
}
const postbackInsert = rowInsert(postbacks);
const mmpPostbackInsert = rowInsert(mmpPostbacks);

// One prepared row per copy rather than a multi-row insert built per postback: on the write path,
// building the statement cost more than running it.
const enqueueFor = (column: 'postbackId' | 'mmpPostbackId') => (db: Db) =>
  db
    .insert(deliveries)
    .values({
      [column]: sql.placeholder('subjectId'),
      destinationId: sql.placeholder('destinationId'),
      state: 'pending',
      nextAttemptAt: sql.placeholder('now'),
      createdAt: sql.placeholder('now'),
    })
    .onConflictDoNothing()
    .prepare();
const enqueueOne = enqueueFor('postbackId');
const enqueueMmp = enqueueFor('mmpPostbackId');

export class SqliteUnit implements Unit {
  private loaded: Settings | undefined;

  constructor(readonly db: Db) {}

  /**
   * The writer rolled back (a unit, or its transaction): settings read since may never have been
   * committed, and the next change would reuse their revision number.
   */
  rolledBack(): void {
    this.loaded = undefined;
  }

  async settings(): Promise<Settings> {
    // One indexed read per unit: another connection (the admin API's) may have changed a setting.
    // (Once per transaction instead, which holds the write lock, measured no faster: bench:writer.)
    const row = await prepared(this.db, 'settingsRevision', (d) => revisionQuery(d).prepare()).get();
    const revision = row?.revision ?? 0;
    if (this.loaded?.revision !== revision) {
      const [schemas, mappings, enabled, linkRows] = settingsQueries(this.db);
      this.loaded = settingsOf(revision, [await schemas, await mappings, await enabled, await linkRows]);
    }
    return this.loaded;
  }

  async batch(statements: ReadonlyArray<BatchItem<'sqlite'>>): Promise<unknown[]> {
    const results: unknown[] = [];
    for (const statement of statements) results.push(await statement);
    return results;
  }

  async insertCounted(items: readonly CountedInsert[]): Promise<Array<number | undefined>> {
    const ids: Array<number | undefined> = [];
    for (const { row, counts, destinationIds } of items) {
      const created = await prepared(this.db, 'insertPostback', postbackInsert.statement).get(postbackInsert.values(row));
      ids.push(created?.id);
      if (!created) continue;
      if (counts) await this.addCounts(counts);
      await this.enqueue(created.id, destinationIds, row.receivedAt);
    }
    return ids;
  }

  async insertMmpCounted(row: UnsavedMmpPostback, counts: MmpCounts, destinationIds: readonly number[]): Promise<number | undefined> {
    const created = await prepared(this.db, 'insertMmpPostback', mmpPostbackInsert.statement).get(mmpPostbackInsert.values(row));
    if (!created) return undefined;
    await prepared(this.db, 'upsertMmpRollup', upsertMmpRollup).run(counts);
    for (const destinationId of destinationIds) await prepared(this.db, 'enqueueMmp', enqueueMmp).run({ subjectId: created.id, destinationId, now: row.receivedAt });
    return created.id;
  }

  async addCounts(counts: Counts): Promise<void> {
    await prepared(this.db, 'upsertRollup', upsertRollup).run(counts.rollup);
    for (const event of counts.events) await prepared(this.db, 'upsertEvent', upsertEvent).run(event);
  }

  async enqueue(postbackId: number, destinationIds: readonly number[], now: Date): Promise<void> {
    for (const destinationId of destinationIds) await prepared(this.db, 'enqueueDelivery', enqueueOne).run({ subjectId: postbackId, destinationId, now });
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
