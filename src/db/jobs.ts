// Background jobs that must survive restarts: re-deriving an app's postbacks after its schema or
// campaign names change, and rebuilding every aggregate. Their state is here; src/maintenance
// runs them, a chunk at a time, each chunk advancing the cursor in the same unit.
import { and, asc, eq, exists, gt, isNull, lte, max, not } from 'drizzle-orm';
import type { Db } from './db.js';
import { guardedValues } from './guarded.js';
import { maintenanceJobs, type PostbackRow, postbacks, rollupEvents, rollups } from './schema.js';

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
  await db
    .update(maintenanceJobs)
    .set({ doneAt: now })
    .where(and(eq(maintenanceJobs.kind, 'rebuild'), isNull(maintenanceJobs.doneAt)));
  const [job] = await db
    .insert(maintenanceJobs)
    .values({ kind: 'rebuild', untilId: last ?? 0, createdAt: now })
    .returning();
  return job!;
}

export async function pendingJobs(db: Db): Promise<Job[]> {
  return db.select().from(maintenanceJobs).where(isNull(maintenanceJobs.doneAt)).orderBy(asc(maintenanceJobs.id));
}

export const rebuildRunning = async (db: Db) => (await pendingJobs(db)).some((j) => j.kind === 'rebuild');

export async function jobById(db: Db, id: number): Promise<Job | undefined> {
  const [job] = await db.select().from(maintenanceJobs).where(eq(maintenanceJobs.id, id));
  return job;
}

/** The next `size` postbacks a job has not reached yet. */
export async function chunkOf(db: Db, job: Job, size: number): Promise<PostbackRow[]> {
  const scope = job.kind === 'rebuild' ? lte(postbacks.id, job.untilId ?? 0) : eq(postbacks.appId, job.appId ?? -1);
  return db
    .select()
    .from(postbacks)
    .where(and(gt(postbacks.id, job.cursor), scope))
    .orderBy(asc(postbacks.id))
    .limit(size);
}
