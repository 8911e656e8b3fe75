// The write unit on D1. D1 has no interactive transactions, so a unit cannot read its own writes
// and branch: each write is one `db.batch()` (one round trip, all or nothing), and statements that
// depend on an earlier outcome carry that condition in SQL (d1/marks.ts). Racing copies of one
// postback are then counted once, and overlapping cron runs never apply a job chunk twice.
import { and, eq, exists, isNull, type SQL, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from '../db.js';
import { guardedValues } from '../guarded.js';
import type { Job } from '../jobs.js';
import { mmpRollupConflict } from '../mmp.js';
import { eventConflict, rollupConflict } from '../rollups.js';
import { deliveries, maintenanceJobs, mmpPostbacks, mmpRollups, postbacks, rollupEvents, rollups } from '../schema.js';
import { revisionQuery, type Settings, type SettingsRows, settingsOf, settingsQueries } from '../settings-snapshot.js';
import type { ChunkChange, CountedInsert, Counts, JobAdvance, MmpCounts, Unit, UnsavedMmpPostback } from '../store.js';
import { batchFloor, closeMark, insertMark, markedPostbackId, markHolds, markIf, newToken } from './marks.js';

type BatchDb = Db & { batch(items: readonly [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]): Promise<unknown[]> };

const ALWAYS = sql`1`;

export class D1Unit implements Unit {
  private loaded: Settings | undefined;

  /** `settingsFrom`: a shard's units read the settings through the unit on `DB`. */
  constructor(
    readonly db: Db,
    private readonly settingsFrom?: D1Unit,
  ) {}

  /** What `settings()` read in this unit, without asking D1 again (the Worker decides on forwarding from it). */
  get loadedSettings(): Settings | undefined {
    return this.settingsFrom ? this.settingsFrom.loadedSettings : this.loaded;
  }

  async settings(): Promise<Settings> {
    if (this.settingsFrom) return this.settingsFrom.settings();
    // First read of the unit (a request has one): the revision and the three tables in one round
    // trip. After that, only the revision, as on Node: a cron run or a test may outlive a change.
    if (this.loaded) {
      const [row] = await revisionQuery(this.db);
      if ((row?.revision ?? 0) === this.loaded.revision) return this.loaded;
    }
    const [rows, ...tables] = await this.batch([revisionQuery(this.db), ...settingsQueries(this.db)]);
    this.loaded = settingsOf((rows as Array<{ revision: number }>)[0]?.revision ?? 0, tables as SettingsRows);
    return this.loaded;
  }

  async batch(statements: ReadonlyArray<BatchItem<'sqlite'>>): Promise<unknown[]> {
    if (statements.length === 0) return [];
    return (this.db as BatchDb).batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
  }

  async insertCounted(items: readonly CountedInsert[]): Promise<Array<number | undefined>> {
    if (items.length === 0) return [];
    // One round trip for all: each row's counts and copies hang on that very row having gone in.
    const floor = batchFloor(this.db, newToken());
    const inserts: number[] = [];
    const statements: Array<BatchItem<'sqlite'>> = [floor.open];
    for (const { row, counts, destinationIds } of items) {
      inserts.push(statements.length);
      statements.push(this.db.insert(postbacks).values(row).onConflictDoNothing().returning({ id: postbacks.id }));
      const id = floor.inserted(row.bodySha256);
      const guard = sql`${id} is not null`;
      if (counts) statements.push(...this.countStatements(counts, guard));
      statements.push(...this.enqueueStatements(id, destinationIds, row.receivedAt, guard));
    }
    statements.push(floor.close);
    const results = await this.batch(statements);
    return inserts.map((at) => (results[at] as Array<{ id: number }>)[0]?.id);
  }

  async insertMmpCounted(row: UnsavedMmpPostback, counts: MmpCounts, destinationIds: readonly number[]): Promise<number | undefined> {
    // As for Apple's postbacks, by the row's own key: its dedupe key.
    const token = newToken();
    const mark = insertMark(this.db, token, mmpPostbacks, mmpPostbacks.dedupeKey, row.dedupeKey);
    const guard = markHolds(token);
    const results = await this.batch([
      mark.open,
      this.db.insert(mmpPostbacks).values(row).onConflictDoNothing().returning({ id: mmpPostbacks.id }),
      mark.settle,
      this.db
        .insert(mmpRollups)
        .select(guardedValues(mmpRollups, counts, guard))
        .onConflictDoUpdate(mmpRollupConflict as never),
      ...destinationIds.map((destinationId) =>
        this.db
          .insert(deliveries)
          .select(
            guardedValues(deliveries, { mmpPostbackId: markedPostbackId(token), destinationId, state: 'pending', nextAttemptAt: row.receivedAt, createdAt: row.receivedAt }, guard),
          )
          .onConflictDoNothing(),
      ),
      mark.close,
    ]);
    return (results[1] as Array<{ id: number }>)[0]?.id;
  }

  async addCounts(counts: Counts): Promise<void> {
    await this.batch(this.countStatements(counts, ALWAYS));
  }

  async enqueue(postbackId: number, destinationIds: readonly number[], now: Date): Promise<void> {
    await this.batch(this.enqueueStatements(sql`${postbackId}`, destinationIds, now, ALWAYS));
  }

  async applyChunk(job: Job, changes: readonly ChunkChange[], advance: JobAdvance): Promise<void> {
    const token = newToken();
    const guard = markHolds(token);
    const unchanged = this.db
      .select({ id: maintenanceJobs.id })
      .from(maintenanceJobs)
      .where(and(eq(maintenanceJobs.id, job.id), eq(maintenanceJobs.cursor, job.cursor), isNull(maintenanceJobs.doneAt)));
    await this.batch([
      markIf(this.db, token, exists(unchanged)),
      ...changes.flatMap((change) => [
        ...(change.remove ? this.countStatements(change.remove, guard) : []),
        this.db
          .update(postbacks)
          .set(change.set)
          .where(and(eq(postbacks.id, change.id), guard)),
        ...(change.add ? this.countStatements(change.add, guard) : []),
      ]),
      this.db
        .update(maintenanceJobs)
        .set(advance)
        .where(and(eq(maintenanceJobs.id, job.id), guard)),
      closeMark(this.db, token),
    ]);
  }

  /** The aggregate upserts, each applied only while `guard` holds when the batch reaches it. */
  private countStatements(counts: Counts, guard: SQL): Array<BatchItem<'sqlite'>> {
    return [
      this.db
        .insert(rollups)
        .select(guardedValues(rollups, counts.rollup, guard))
        .onConflictDoUpdate(rollupConflict),
      ...counts.events.map((event) =>
        this.db
          .insert(rollupEvents)
          .select(guardedValues(rollupEvents, event, guard))
          .onConflictDoUpdate(eventConflict),
      ),
    ];
  }

  /** Outbox rows for a postback whose id may be known only to the database yet (`postbackId`, a subquery). */
  private enqueueStatements(postbackId: SQL, destinationIds: readonly number[], now: Date, guard: SQL): Array<BatchItem<'sqlite'>> {
    return destinationIds.map((destinationId) =>
      this.db
        .insert(deliveries)
        .select(guardedValues(deliveries, { postbackId, destinationId, state: 'pending', nextAttemptAt: now, createdAt: now }, guard))
        .onConflictDoNothing(),
    );
  }
}
