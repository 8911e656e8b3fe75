// What the domain may do inside one atomic write, said once. better-sqlite3 (db/sqlite/) and D1
// (db/d1/) each implement it, and each runtime's entry picks one: nothing above this layer asks
// which driver it runs on.
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from './db.js';
import type { Job } from './jobs.js';
import type { MmpPostbackRow, MmpRollupKey, MmpRollupMeasures, NewPostbackRow, PostbackRow, RollupKey, RollupMeasures } from './schema.js';
import type { Settings } from './settings-snapshot.js';

/** A postback row with every column set (null where absent), ready to insert. */
export type UnsavedPostback = Omit<PostbackRow, 'id'>;

/** What one postback adds to the aggregates: one rollup row and one row per decoded event. Negative counts take it back out. */
export interface Counts {
  rollup: RollupKey & RollupMeasures;
  events: Array<RollupKey & { event: string; postbacks: number; countMin: number; countMax: number }>;
}

export type UnsavedMmpPostback = Omit<MmpPostbackRow, 'id'>;

/** What one MMP postback (or click) adds to the MMP aggregates. */
export type MmpCounts = MmpRollupKey & MmpRollupMeasures;

/** A postback to insert, what it adds to the aggregates, and the destinations that get a copy. */
export interface CountedInsert {
  row: UnsavedPostback;
  counts: Counts | undefined;
  destinationIds: readonly number[];
}

/** One postback of a job chunk: new derived columns, and the counts to take out and put back. */
export interface ChunkChange {
  id: number;
  set: Partial<NewPostbackRow>;
  remove: Counts | undefined;
  add: Counts | undefined;
}

/** Where a job stands after a chunk. */
export interface JobAdvance {
  cursor: number;
  doneAt: Date | null;
}

/** One atomic unit of work: everything done through it commits together or not at all. */
export interface Unit {
  /** The connection the unit runs on, for reads and for statements that stand alone. */
  readonly db: Db;
  /** The small tables every write needs (schemas, campaign names, destinations), current as of this unit. */
  settings(): Promise<Settings>;
  /** Statements that stand or fall together, run in order; resolves with each one's result. */
  batch(statements: ReadonlyArray<BatchItem<'sqlite'>>): Promise<unknown[]>;
  /**
   * Inserts each row unless its body or dedupe key is taken, and only for a row that went in adds its
   * `counts` to the aggregates and queues a delivery to each of its destinations. Resolves with each
   * new row's id (undefined where the insert was ignored). The rows' bodies must differ; D1 writes
   * them all in one round trip (a queue consumer's batch).
   */
  insertCounted(items: readonly CountedInsert[]): Promise<Array<number | undefined>>;
  /** As `insertCounted`, for an MMP postback: kept unless its dedupe key is taken. */
  insertMmpCounted(row: UnsavedMmpPostback, counts: MmpCounts, destinationIds: readonly number[]): Promise<number | undefined>;
  /** Adds counts to the aggregates (with negative counts, takes them out). */
  addCounts(counts: Counts): Promise<void>;
  /** Queues a delivery of a stored postback to each destination (at most one per pair). */
  enqueue(postbackId: number, destinationIds: readonly number[], now: Date): Promise<void>;
  /**
   * Applies one chunk of a re-derive or rebuild job and moves its cursor, only if the job still
   * stands where `job` says: two runs of one chunk (overlapping cron runs) apply it once.
   */
  applyChunk(job: Job, changes: readonly ChunkChange[], advance: JobAdvance): Promise<void>;
}

/**
 * Runs `work` as one atomic unit. Node groups many units into one commit; D1 makes each write a
 * batch. The promise settles only after the commit. `work` must touch only the database: awaiting
 * anything else would hold the unit (and on Node every unit queued behind it) open.
 */
export interface Writer {
  run<T>(work: (tx: Unit) => Promise<T>): Promise<T>;
}
