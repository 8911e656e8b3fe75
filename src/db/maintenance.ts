// Background upkeep that must survive restarts: re-deriving an app's postbacks after its schema
// or campaign names change, and rebuilding all aggregates. Each chunk is one atomic unit that
// also advances the job's cursor, so a stopped job resumes exactly where it was.
import { and, asc, eq, exists, gt, isNull, lte, max, not } from 'drizzle-orm';
import { atomically, closeMark, guardedValues, markHolds, markIf, newToken, supportsBatch } from './batch.js';
import type { InstallModel } from '../conversion/install-date.js';
import type { Db, Writer } from './db.js';
import { deriveColumns, sameDerived, type Derived } from '../conversion/derive.js';
import { loadSettings } from './settings-cache.js';
import { applyContribution, contributionStatements } from './rollups.js';
import { maintenanceJobs, postbacks, rollupEvents, rollups, type PostbackRow } from './schema.js';

export type Job = typeof maintenanceJobs.$inferSelect;

/** Queues a re-derive of the app's postbacks: one statement, so it fits in a batch. */
export function enqueueRederive(db: Db, appId: number, now: Date) {
  // One pending job per app is enough: it will see every change made before it reaches a row.
  const pending = db
    .select({ id: maintenanceJobs.id })
    .from(maintenanceJobs)
    .where(and(eq(maintenanceJobs.kind, 'rederive'), eq(maintenanceJobs.appId, appId), eq(maintenanceJobs.cursor, 0), isNull(maintenanceJobs.doneAt)));
  return db.insert(maintenanceJobs).select(guardedValues(maintenanceJobs, { kind: 'rederive', appId, createdAt: now }, not(exists(pending))));
}

/** Empties the aggregates and queues their reconstruction from every stored postback. */
export async function startRebuild(db: Db, now: Date): Promise<Job> {
  const [{ last } = { last: 0 }] = await db.select({ last: max(postbacks.id) }).from(postbacks);
  await db.delete(rollups);
  await db.delete(rollupEvents);
  await db.update(maintenanceJobs).set({ doneAt: now }).where(and(eq(maintenanceJobs.kind, 'rebuild'), isNull(maintenanceJobs.doneAt)));
  const [job] = await db.insert(maintenanceJobs).values({ kind: 'rebuild', untilId: last ?? 0, createdAt: now }).returning();
  return job!;
}

export async function pendingJobs(db: Db): Promise<Job[]> {
  return db.select().from(maintenanceJobs).where(isNull(maintenanceJobs.doneAt)).orderBy(asc(maintenanceJobs.id));
}

export const rebuildRunning = async (db: Db) => (await pendingJobs(db)).some((j) => j.kind === 'rebuild');

async function chunkOf(db: Db, job: Job, size: number): Promise<PostbackRow[]> {
  const scope = job.kind === 'rebuild' ? lte(postbacks.id, job.untilId ?? 0) : eq(postbacks.appId, job.appId ?? -1);
  return db.select().from(postbacks).where(and(gt(postbacks.id, job.cursor), scope)).orderBy(asc(postbacks.id)).limit(size);
}

/** Runs one chunk of a job; false once the job is done. */
export async function runJobChunk(db: Db, writer: Writer, job: Job, installModel: InstallModel, now: Date, size = 500): Promise<boolean> {
  return writer.run(async (tx) => {
    // Re-read inside the unit: another process may have advanced or finished the job.
    const [current] = await tx.select().from(maintenanceJobs).where(eq(maintenanceJobs.id, job.id));
    if (!current || current.doneAt) return false;
    const rows = await chunkOf(tx, current, size);
    const settings = await loadSettings(tx);
    const changes = rows
      .map((row) => ({ row, derived: deriveColumns(settings, row, installModel) }))
      .filter(({ row, derived }) => current.kind === 'rebuild' || !sameDerived(row, derived));
    const done = rows.length < size;
    const advance = { cursor: rows.at(-1)?.id ?? current.cursor, doneAt: done ? now : null };
    await (supportsBatch(tx) ? applyChunkInBatch : applyChunk)(tx, current, changes, advance);
    return !done;
  });
}

type Change = { row: PostbackRow; derived: Derived };
type Advance = { cursor: number; doneAt: Date | null };

async function applyChunk(tx: Db, job: Job, changes: Change[], advance: Advance): Promise<void> {
  for (const { row, derived } of changes) {
    // A rebuild starts from empty aggregates: there is nothing of the old row to take out.
    if (job.kind === 'rederive') await applyContribution(tx, row, -1);
    await tx.update(postbacks).set(derived).where(eq(postbacks.id, row.id));
    await applyContribution(tx, { ...row, ...derived }, 1);
  }
  await tx.update(maintenanceJobs).set(advance).where(eq(maintenanceJobs.id, job.id));
}

/**
 * D1: the chunk is one batch that applies only if the job's cursor is still where this run read
 * it, so two overlapping cron runs never apply one chunk twice.
 */
async function applyChunkInBatch(tx: Db, job: Job, changes: Change[], advance: Advance): Promise<void> {
  const token = newToken();
  const guard = markHolds(token);
  const unchanged = tx
    .select({ id: maintenanceJobs.id })
    .from(maintenanceJobs)
    .where(and(eq(maintenanceJobs.id, job.id), eq(maintenanceJobs.cursor, job.cursor), isNull(maintenanceJobs.doneAt)));
  await atomically(tx, [
    markIf(tx, token, exists(unchanged)),
    ...changes.flatMap(({ row, derived }) => [
      ...(job.kind === 'rederive' ? contributionStatements(tx, row, -1, guard) : []),
      tx.update(postbacks).set(derived).where(and(eq(postbacks.id, row.id), guard)),
      ...contributionStatements(tx, { ...row, ...derived }, 1, guard),
    ]),
    tx.update(maintenanceJobs).set(advance).where(and(eq(maintenanceJobs.id, job.id), guard)),
    closeMark(tx, token),
  ]);
}

/**
 * Drains pending jobs, oldest first, for at most `maxChunks` chunks (a Worker invocation may run
 * only so many queries; the next one resumes from the cursor). Returns how many chunks ran.
 */
export async function runPendingJobs(db: Db, writer: Writer, installModel: InstallModel, now: () => Date, size?: number, maxChunks = Infinity): Promise<number> {
  let chunks = 0;
  for (const job of await pendingJobs(db)) {
    let more = true;
    while (more && chunks < maxChunks) {
      more = await runJobChunk(db, writer, job, installModel, now(), size);
      chunks++;
    }
    if (chunks >= maxChunks) break;
  }
  return chunks;
}
