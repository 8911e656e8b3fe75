// D1 has no interactive transactions: a `db.batch()` runs its statements in one transaction, but
// none can see what an earlier one returned. A statement that depends on an earlier outcome (was
// the postback inserted? is the job still where this run read it?) is guarded instead by a mark in
// `write_marks`: the batch writes the mark first, only when the condition holds, every later
// statement runs only while the mark exists, and the last statement deletes it.
import { and, eq, isNotNull, type SQL, sql } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Db } from '../db.js';
import { type mmpPostbacks, postbacks, writeMarks } from '../schema.js';

/** A fresh mark token: unique per unit, so concurrent units never read each other's marks. */
export const newToken = () => crypto.randomUUID();

/** True while the unit's mark exists and has found its postback. */
export const markHolds = (token: string): SQL => sql`exists (select 1 from ${writeMarks} where ${and(eq(writeMarks.token, token), isNotNull(writeMarks.postbackId))})`;

/** The id of the postback this unit inserted (null when the insert was ignored). */
export const markedPostbackId = (token: string): SQL => sql`(select ${writeMarks.postbackId} from ${writeMarks} where ${eq(writeMarks.token, token)})`;

/** Opens a mark only if `condition` holds when the batch reaches it. */
export const markIf = (db: Db, token: string, condition: SQL) => db.insert(writeMarks).select(sql`select ${token}, null, 0 where ${condition}`);

export const closeMark = (db: Db, token: string) => db.delete(writeMarks).where(eq(writeMarks.token, token));

/**
 * For a batch of Apple postback inserts: `open` notes the newest id before them, `close` drops the
 * note, and `inserted(sha)` is the id of the row with that body if this batch inserted it (above the
 * floor; bodies are unique and ids only grow), else null. One note serves every row of the batch.
 */
export function batchFloor(db: Db, token: string) {
  const floor = sql`(select ${writeMarks.floor} from ${writeMarks} where ${eq(writeMarks.token, token)})`;
  return {
    open: db.insert(writeMarks).select(sql`select ${token}, (select coalesce(max(${postbacks.id}), 0) from ${postbacks}), null where true`),
    inserted: (bodySha256: string): SQL => sql`(select ${postbacks.id} from ${postbacks} where ${postbacks.bodySha256} = ${bodySha256} and ${postbacks.id} > ${floor})`,
    close: closeMark(db, token),
  };
}

/**
 * The three statements that bracket a guarded insert into `table`: before it, note the newest id;
 * after it, record the id of the row whose `key` column holds `value` if it is above that floor
 * (then it is ours, since ids only grow); at the end, drop the mark. Apple's postbacks are known by
 * their body's hash, MMP postbacks by their dedupe key.
 */
export function insertMark(db: Db, token: string, table: typeof postbacks | typeof mmpPostbacks, key: SQLiteColumn, value: string) {
  return {
    open: db.insert(writeMarks).select(sql`select ${token}, (select coalesce(max(${table.id}), 0) from ${table}), null where true`),
    settle: db
      .update(writeMarks)
      .set({ postbackId: sql`(select ${table.id} from ${table} where ${key} = ${value} and ${table.id} > ${writeMarks.floor})` })
      .where(eq(writeMarks.token, token)),
    close: closeMark(db, token),
  };
}
