// Running re-derive and rebuild jobs: a chunk of postbacks at a time, each chunk one atomic unit
// that also advances the job's cursor, so a stopped job resumes exactly where it was.
import { eq } from 'drizzle-orm';
import { deriveColumns, sameDerived } from '../conversion/derive.js';
import type { InstallModel } from '../conversion/install-date.js';
import type { Db } from '../db/db.js';
import { chunkOf, type Job, jobById, pendingJobs } from '../db/jobs.js';
import { maintenanceJobs } from '../db/schema.js';
import type { Shards } from '../db/shards.js';
import type { ChunkChange, Writer } from '../db/store.js';
import { countsOf } from '../rollup/contribution.js';

/** Runs one chunk of a job; false once the job is done. */
export async function runJobChunk(writer: Writer, job: Job, installModel: InstallModel, now: Date, size = 500): Promise<boolean> {
  return writer.run(async (tx) => {
    // Re-read inside the unit: another process may have advanced or finished the job.
    const current = await jobById(tx.db, job.id);
    if (!current || current.doneAt) return false;
    const rows = await chunkOf(tx.db, current, size);
    const settings = await tx.settings();
    const changes: ChunkChange[] = [];
    for (const row of rows) {
      const derived = deriveColumns(settings, row, installModel);
      if (current.kind === 'rederive' && sameDerived(row, derived)) continue;
      changes.push({
        id: row.id,
        set: derived,
        // A rebuild starts from empty aggregates: there is nothing of the old row to take out.
        remove: current.kind === 'rederive' ? countsOf(row, -1) : undefined,
        add: countsOf({ ...row, ...derived }, 1),
      });
    }
    const done = rows.length < size;
    await tx.applyChunk(current, changes, { cursor: rows.at(-1)?.id ?? current.cursor, doneAt: done ? now : null });
    return !done;
  });
}

/**
 * Drains pending jobs, oldest first, for at most `maxChunks` chunks (a Worker invocation may run
 * only so many queries; the next one resumes from the cursor). Returns how many chunks ran.
 * Re-derives of the apps in `waiting` (a move is copying them) that have not begun wait.
 */
export async function runPendingJobs(
  db: Db,
  writer: Writer,
  installModel: InstallModel,
  now: () => Date,
  size?: number,
  maxChunks = Infinity,
  waiting: ReadonlySet<number> = new Set(),
): Promise<number> {
  let chunks = 0;
  for (const job of await pendingJobs(db)) {
    if (job.kind === 'rederive' && job.cursor === 0 && job.appId !== null && waiting.has(job.appId)) continue;
    let more = true;
    while (more && chunks < maxChunks) {
      more = await runJobChunk(writer, job, installModel, now(), size);
      chunks++;
    }
    if (chunks >= maxChunks) break;
  }
  return chunks;
}

/**
 * Sharded Workers: a settings change queues its re-derive in `DB`, in the same write as the change;
 * this hands each to the shard holding its app (a copy that names it, so handing it twice copies it
 * once) and then marks it done in `DB`. The shards' runners take it from there.
 */
export async function dispatchJobs(settingsDb: Db, shards: Shards, now: Date, waiting: ReadonlySet<number> = new Set()): Promise<number> {
  let dispatched = 0;
  for (const job of await pendingJobs(settingsDb)) {
    // Copies (when SHARD_0 is DB itself) and rebuilds (each database queues its own) stay put; a
    // move copying the app keeps its re-derive here until the app's shard is settled.
    if (job.kind !== 'rederive' || job.originJobId !== null || job.appId === null || waiting.has(job.appId)) continue;
    for (const shard of await shards.holding([job.appId])) {
      await shard.writer.run((tx) =>
        tx.batch([tx.db.insert(maintenanceJobs).values({ kind: job.kind, appId: job.appId, createdAt: job.createdAt, originJobId: job.id }).onConflictDoNothing()]),
      );
    }
    await settingsDb.update(maintenanceJobs).set({ doneAt: now }).where(eq(maintenanceJobs.id, job.id));
    dispatched++;
  }
  return dispatched;
}
