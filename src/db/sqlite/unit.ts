// The write unit on better-sqlite3. A unit runs inside a transaction the Node writer holds (group
// commit), so it reads what it just wrote and acts on it; statements it runs thousands of times a
// second are prepared once per connection, because building their SQL costs more than running it.
import type Database from 'better-sqlite3';
import { type Column, eq, getTableColumns, is, Param, Placeholder, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from '../db.js';
import type { Job } from '../jobs.js';
import { upsertMmpRollup } from '../mmp.js';
import { prepared } from '../prepared.js';
import { upsertEvent, upsertRollup } from '../rollups.js';
import { deliveries, maintenanceJobs, mmpPostbacks, postbacks } from '../schema.js';
import { revisionQuery, type Settings, settingsOf, settingsQueries } from '../settings-snapshot.js';
import type { ChunkChange, CountedInsert, Counts, JobAdvance, MmpCounts, Unit, UnsavedMmpPostback } from '../store.js';

/**
 * A statement drizzle built, run on better-sqlite3 itself with its parameters bound by position.
 * drizzle's prepared query checks every parameter's kind and looks its value up by name on each
 * run, then copies the answer into an object; without it the ingest thread spends ~11 % less CPU
 * per postback (bench:writer, BENCHMARKS.md). The SQL and the columns' encoders stay drizzle's.
 */
class Bound {
  private readonly statement: Database.Statement;
  /** Per parameter: the placeholder whose value it takes, or none for a value the SQL fixed. */
  private readonly names: Array<string | undefined> = [];
  private readonly fixed: unknown[] = [];
  /** Per parameter: its column's encoder, and whether null passes as null (a row's column). */
  private readonly encoders: Array<{ column: Column; keepNull: boolean } | undefined> = [];

  /** `row`: the placeholders named after these columns take a row's values (absent: null). */
  constructor(sqlite: Database.Database, query: { toSQL(): { sql: string; params: unknown[] } }, row?: Record<string, Column>) {
    const { sql: text, params } = query.toSQL();
    this.statement = sqlite.prepare(text);
    for (const param of params) {
      if (is(param, Placeholder)) {
        this.names.push(param.name);
        const column = row?.[param.name];
        this.encoders.push(column ? { column, keepNull: true } : undefined);
        this.fixed.push(undefined);
      } else if (is(param, Param) && is(param.value, Placeholder)) {
        // In a column's place drizzle encodes even null (a null boolean becomes 0): as it does.
        this.names.push(param.value.name);
        this.encoders.push({ column: param.encoder as Column, keepNull: false });
        this.fixed.push(undefined);
      } else if (is(param, Param)) {
        throw new Error(`a bound statement's values are placeholders or already encoded: ${text}`);
      } else {
        // A value written into the query (drizzle encoded it when it built the SQL).
        this.names.push(undefined);
        this.encoders.push(undefined);
        this.fixed.push(param);
      }
    }
  }

  private bind(values: object): unknown[] {
    const given = values as Record<string, unknown>;
    const out = new Array<unknown>(this.names.length);
    for (let i = 0; i < out.length; i++) {
      const name = this.names[i];
      if (name === undefined) {
        out[i] = this.fixed[i];
        continue;
      }
      const value = given[name];
      const encoder = this.encoders[i];
      if (encoder?.keepNull) out[i] = value === null || value === undefined ? null : encoder.column.mapToDriverValue(value);
      else if (value === undefined) throw new Error(`no value for the placeholder ${name}`);
      else out[i] = encoder ? encoder.column.mapToDriverValue(value) : value;
    }
    return out;
  }

  run(values: object): void {
    this.statement.run(this.bind(values));
  }

  /**
   * Runs an insert that skips a conflict, answering the new row's id, or undefined when it was
   * skipped: from SQLite's count of changes and last rowid rather than a RETURNING clause, which
   * cost ~7 µs more per postback (48.3 against 41.0 µs for the row's bare insert; BENCHMARKS.md).
   */
  insert(values: object): number | undefined {
    const { changes, lastInsertRowid } = this.statement.run(this.bind(values));
    return changes ? Number(lastInsertRowid) : undefined;
  }
}

// drizzle maps a value in a column's place through the column even when it is null, and a null
// boolean comes out as 0 (false), a null JSON value as the text 'null'. So a row's placeholders
// are raw, and Bound maps each value through its column itself, keeping null null.
/** An insert of a whole row but its id, skipped on a conflict (`Bound.insert` answers the new id). */
function rowInsert(table: typeof postbacks | typeof mmpPostbacks) {
  const columns = getTableColumns(table) as Record<string, Column>;
  const names = Object.keys(columns).filter((c) => c !== 'id');
  return (db: Db, sqlite: Database.Database) =>
    new Bound(
      sqlite,
      db
        .insert(table)
        .values(Object.fromEntries(names.map((c) => [c, sql`${sql.placeholder(c)}`])) as never)
        .onConflictDoNothing(),
      columns,
    );
}
const postbackInsert = rowInsert(postbacks);
const mmpPostbackInsert = rowInsert(mmpPostbacks);

// One prepared row per copy rather than a multi-row insert built per postback: on the write path,
// building the statement cost more than running it.
const enqueueFor = (column: 'postbackId' | 'mmpPostbackId', db: Db) =>
  db
    .insert(deliveries)
    .values({
      [column]: sql.placeholder('subjectId'),
      destinationId: sql.placeholder('destinationId'),
      state: 'pending',
      nextAttemptAt: sql.placeholder('now'),
      createdAt: sql.placeholder('now'),
    })
    .onConflictDoNothing();

export class SqliteUnit implements Unit {
  private loaded: Settings | undefined;
  /** The write path's statements, bound by position on this connection. */
  private readonly bound: Record<'postback' | 'mmpPostback' | 'rollup' | 'event' | 'mmpRollup' | 'enqueue' | 'enqueueMmp', Bound>;

  constructor(
    readonly db: Db,
    sqlite: Database.Database,
  ) {
    this.bound = {
      postback: postbackInsert(db, sqlite),
      mmpPostback: mmpPostbackInsert(db, sqlite),
      rollup: new Bound(sqlite, upsertRollup(db)),
      event: new Bound(sqlite, upsertEvent(db)),
      mmpRollup: new Bound(sqlite, upsertMmpRollup(db)),
      enqueue: new Bound(sqlite, enqueueFor('postbackId', db)),
      enqueueMmp: new Bound(sqlite, enqueueFor('mmpPostbackId', db)),
    };
  }

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
      const id = this.bound.postback.insert(row);
      ids.push(id);
      if (id === undefined) continue;
      if (counts) await this.addCounts(counts);
      await this.enqueue(id, destinationIds, row.receivedAt);
    }
    return ids;
  }

  async insertMmpCounted(row: UnsavedMmpPostback, counts: MmpCounts, destinationIds: readonly number[]): Promise<number | undefined> {
    const id = this.bound.mmpPostback.insert(row);
    if (id === undefined) return undefined;
    this.bound.mmpRollup.run(counts);
    for (const destinationId of destinationIds) this.bound.enqueueMmp.run({ subjectId: id, destinationId, now: row.receivedAt });
    return id;
  }

  async addCounts(counts: Counts): Promise<void> {
    this.bound.rollup.run(counts.rollup);
    for (const event of counts.events) this.bound.event.run(event);
  }

  async enqueue(postbackId: number, destinationIds: readonly number[], now: Date): Promise<void> {
    for (const destinationId of destinationIds) this.bound.enqueue.run({ subjectId: postbackId, destinationId, now });
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
