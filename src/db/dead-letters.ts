// Queue mode's dead letters: kept when the Worker consumes the dead-letter queue, listed for admins,
// and deleted once replayed to an ingest queue.
import { asc, gt, inArray } from 'drizzle-orm';
import type { Db } from './db.js';
import { type QueueDeadLetterRow, queueDeadLetters } from './schema.js';

/** Keeps dead letters; one delivered again is kept once. */
export const keepDeadLetters = (db: Db, letters: ReadonlyArray<Omit<QueueDeadLetterRow, 'id'>>) =>
  db
    .insert(queueDeadLetters)
    .values([...letters])
    .onConflictDoNothing({ target: queueDeadLetters.messageId });

export const listDeadLetters = (db: Db, afterId: number, limit: number): Promise<QueueDeadLetterRow[]> =>
  db.select().from(queueDeadLetters).where(gt(queueDeadLetters.id, afterId)).orderBy(asc(queueDeadLetters.id)).limit(limit);

export const deadLettersById = (db: Db, ids: readonly number[]): Promise<QueueDeadLetterRow[]> =>
  db
    .select()
    .from(queueDeadLetters)
    .where(inArray(queueDeadLetters.id, [...ids]))
    .orderBy(asc(queueDeadLetters.id));

export const forgetDeadLetters = (db: Db, ids: readonly number[]) => db.delete(queueDeadLetters).where(inArray(queueDeadLetters.id, [...ids]));
