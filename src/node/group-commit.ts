// Group commit for better-sqlite3: the atomic units queued during one turn of the event loop
// share a single COMMIT (one fsync), and each caller is answered only after that commit.
import type Database from 'better-sqlite3';
import { type Db, StorageUnavailableError } from '../db/db.js';
import { SqliteUnit } from '../db/sqlite/unit.js';
import type { Unit, Writer } from '../db/store.js';
import { Histogram } from '../observability/metrics.js';

interface Job {
  work: (tx: Unit) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

// Errors after which the same write may succeed later: answer 503 so the device retries.
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|PROTOCOL)/;

function storageError(error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && TRANSIENT.test(code) ? new StorageUnavailableError(code, { cause: error }) : error;
}

export interface GroupCommitStats {
  commits: number;
  units: number;
  largestBatch: number;
  /** Batches run a second time, unit by unit, because a unit failed. */
  isolatedRetries: number;
}

export class GroupCommitWriter implements Writer {
  private queue: Job[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private closed = false;
  readonly stats: GroupCommitStats = { commits: 0, units: 0, largestBatch: 0, isolatedRetries: 0 };
  readonly batchSizes = new Histogram('skanpost_group_commit_units', 'Atomic units (postbacks, mostly) per SQLite commit', [1, 2, 5, 10, 20, 50, 100, 200, 512]);

  /** The writer's figures in the exposition format: batch sizes, and batches a failing unit made run twice. */
  metricsText(): string {
    return [
      this.batchSizes.text(),
      '# HELP skanpost_group_commit_isolated_retries_total Batches run again unit by unit because one unit failed',
      '# TYPE skanpost_group_commit_isolated_retries_total counter',
      `skanpost_group_commit_isolated_retries_total ${this.stats.isolatedRetries}`,
    ].join('\n');
  }

  // Run thousands of times a second: prepared once rather than parsed by exec() each time.
  private readonly statements: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', Database.Statement>;
  /** Every unit runs on this connection, inside the batch's transaction. */
  private readonly unit: SqliteUnit;

  constructor(
    private readonly sqlite: Database.Database,
    db: Db,
    private readonly maxBatch = 512,
  ) {
    this.unit = new SqliteUnit(db, sqlite);
    this.statements = {
      begin: sqlite.prepare('BEGIN IMMEDIATE'),
      commit: sqlite.prepare('COMMIT'),
      rollback: sqlite.prepare('ROLLBACK'),
      savepoint: sqlite.prepare('SAVEPOINT unit'),
      release: sqlite.prepare('RELEASE unit'),
      rollbackTo: sqlite.prepare('ROLLBACK TO unit'),
    };
  }

  run<T>(work: (tx: Unit) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StorageUnavailableError('CLOSED'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Stops taking work and settles everything already queued. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.queue.length > 0) await this.startFlush();
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // setImmediate lets every request that is already parsed join this commit.
    setImmediate(() => {
      this.scheduled = false;
      void this.startFlush();
    });
  }

  /** At most one flush at a time: a second BEGIN inside the first would fail. */
  private startFlush(): Promise<void> {
    if (!this.flushing) {
      const flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (this.queue.length > 0) this.schedule();
      });
      this.flushing = flushing;
    }
    return this.flushing;
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    try {
      // Savepoints cost a noticeable share of a postback's write (BENCHMARKS.md), and units almost never fail: run the batch
      // bare first, and only if a unit throws, run it again with each unit in its own savepoint.
      let settled = await this.commitBatch(batch, false);
      if (!settled) {
        this.stats.isolatedRetries++;
        settled = (await this.commitBatch(batch, true))!;
      }
      this.stats.commits++;
      this.stats.units += batch.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
      this.batchSizes.observe(batch.length);
      for (const { job, ok, value } of settled) (ok ? job.resolve : job.reject)(value);
    } catch (error) {
      // Nothing of this batch is durable: every caller must hear so, never a 200.
      const failure = storageError(error);
      for (const job of batch) job.reject(failure);
    }
  }

  /**
   * One transaction for the batch. `isolate`: each unit in a savepoint, so a failing unit is
   * rolled back alone. Without it, the first failing unit rolls everything back and the result
   * is undefined: the caller runs the batch again, isolated (units touch only the database, so
   * running them twice is safe).
   */
  private async commitBatch(batch: Job[], isolate: boolean): Promise<Array<{ job: Job; ok: boolean; value: unknown }> | undefined> {
    const settled: Array<{ job: Job; ok: boolean; value: unknown }> = [];
    this.statements.begin.run();
    try {
      for (const job of batch) {
        if (isolate) this.statements.savepoint.run();
        try {
          const value = await job.work(this.unit);
          if (isolate) this.statements.release.run();
          settled.push({ job, ok: true, value });
        } catch (error) {
          this.unit.rolledBack();
          // SQLite ended the whole transaction itself: a full disk (or an I/O error) during a
          // statement that keeps no journal of its own, as a one-row insert, rolls back every unit
          // of the batch, savepoints included. None of them is kept: all hear the storage error.
          if (!this.sqlite.inTransaction) throw error;
          if (!isolate) {
            this.statements.rollback.run();
            return undefined;
          }
          this.statements.rollbackTo.run();
          this.statements.release.run();
          settled.push({ job, ok: false, value: storageError(error) });
        }
      }
      this.statements.commit.run();
      return settled;
    } catch (error) {
      this.unit.rolledBack();
      if (this.sqlite.inTransaction) this.statements.rollback.run();
      throw error;
    }
  }
}
