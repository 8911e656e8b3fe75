// Retention: raw rows that count in no headline figure (invalid, unverifiable, development) are
// pruned after SKANPOST_RETENTION_DAYS; verified rows only when the operator sets a limit for
// them. Clicks go once past their lookback plus 30 days. What a pruned row added to the aggregates
// stays: reports are history.
import { and, asc, inArray, lt, ne, or } from 'drizzle-orm';
import { pruneClicks } from './mmp.js';
import { deliveries, postbackCopies, postbacks } from './schema.js';
import type { Writer } from './store.js';

export interface RetentionPolicy {
  /** Invalid, unverifiable and development rows older than this many days go. */
  unverifiedDays: number;
  /** Verified production rows (and their conflicting copies) older than this go; undefined keeps them. */
  verifiedDays: number | undefined;
}

const DAY = 86_400_000;

/** Prunes in chunks until nothing expired is left (or `maxChunks` ran, per table); resolves with how many rows went. */
export async function pruneExpired(writer: Writer, policy: RetentionPolicy, now: Date, chunk = 500, maxChunks = Infinity): Promise<number> {
  const unverifiedBefore = new Date(now.getTime() - policy.unverifiedDays * DAY);
  const unverified = and(lt(postbacks.receivedAt, unverifiedBefore), or(ne(postbacks.signature, 'verified'), ne(postbacks.environment, 'production')));
  const expired = policy.verifiedDays === undefined ? unverified : or(unverified, lt(postbacks.receivedAt, new Date(now.getTime() - policy.verifiedDays * DAY)));
  let pruned = 0;
  for (let chunks = 1; ; chunks++) {
    const removed = await writer.run(async (tx) => {
      // The chunk is chosen inside each statement rather than sent as a list of ids: D1 binds at
      // most 100 parameters per statement.
      const doomed = tx.db.select({ id: postbacks.id }).from(postbacks).where(expired).orderBy(asc(postbacks.id)).limit(chunk);
      const [, , gone] = await tx.batch([
        tx.db.delete(deliveries).where(inArray(deliveries.postbackId, doomed)),
        // A pruned transaction's later copies go with it.
        tx.db.delete(postbackCopies).where(inArray(postbackCopies.postbackId, doomed)),
        tx.db.delete(postbacks).where(inArray(postbacks.id, doomed)).returning({ id: postbacks.id }),
      ]);
      return (gone as unknown[]).length;
    });
    pruned += removed;
    if (removed < chunk || chunks >= maxChunks) break;
  }
  // Clicks past their lookback plus 30 days (each row knows when): their counts stay in the reports.
  for (let chunks = 1; ; chunks++) {
    const removed = await writer.run((tx) => pruneClicks(tx, now, chunk));
    pruned += removed;
    if (removed < chunk || chunks >= maxChunks) return pruned;
  }
}
