// Background upkeep that must survive restarts: re-deriving an app's postbacks after its schema
// or campaign names change, and rebuilding all aggregates. Each chunk is one atomic unit that
// also advances the job's cursor, so a stopped job resumes exactly where it was.
import { and, asc, eq, gt, isNull, lte, max } from 'drizzle-orm';
import type { InstallModel } from '../conversion/install-date.js';
import type { Db, Writer } from './db.js';
import { deriveColumns, sameDerived } from './derive.js';
import { loadSettings } from './settings-cache.js';
import { applyContribution } from './rollups.js';
import { maintenanceJobs, postbacks, rollupEvents, rollups, type PostbackRow } from './schema.js';

export type Job = typeof maintenanceJobs.$inferSelect;

export async function enqueueRederive(db: Db, appId: number, now: Date): Promise<void> {
  // One pending job per app is enough: it will see every change made before it reaches a row.
  const [pending] = await db
    .select({ id: maintenanceJobs.id })
    .from(maintenanceJobs)
    .where(and(eq(maintenanceJobs.kind, 'rederive'), eq(maintenanceJobs.appId, appId), eq(maintenanceJobs.cursor, 0), isNull(maintenanceJobs.doneAt)));
  if (!pending) await db.insert(maintenanceJobs).values({ kind: 'rederive', appId, createdAt: now });
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
    for (const row of rows) {
      const derived = deriveColumns(settings, row, installModel);
      if (current.kind === 'rebuild') {
        await tx.update(postbacks).set(derived).where(eq(postbacks.id, row.id));
        await applyContribution(tx, { ...row, ...derived }, 1);
      } else if (!sameDerived(row, derived)) {
        await applyContribution(tx, row, -1);
        await tx.update(postbacks).set(derived).where(eq(postbacks.id, row.id));
        await applyContribution(tx, { ...row, ...derived }, 1);
      }
    }
    const done = rows.length < size;
    await tx
      .update(maintenanceJobs)
      .set({ cursor: rows.at(-1)?.id ?? current.cursor, doneAt: done ? now : null })
      .where(eq(maintenanceJobs.id, job.id));
    return !done;
  });
}

/** Drains every pending job, oldest first; returns how many chunks ran. */
export async function runPendingJobs(db: Db, writer: Writer, installModel: InstallModel, now: () => Date, size?: number): Promise<number> {
  let chunks = 0;
  for (const job of await pendingJobs(db)) {
    while (await runJobChunk(db, writer, job, installModel, now(), size)) chunks++;
    chunks++;
  }
  return chunks;
}
