// Atomic units without interactive transactions. On D1 a unit is one `db.batch()`: its statements
// run in order inside one transaction, but none can see what an earlier one returned. Statements
// that depend on an earlier outcome carry a guard (a mark in `write_marks`) instead.
import { and, eq, getTableColumns, is, isNotNull, sql, SQL, type Column } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from './db.js';
import { postbacks, writeMarks } from './schema.js';

type BatchDb = Db & { batch(items: readonly [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]): Promise<unknown[]> };

/** D1 (and any driver with `batch`): writes must be grouped into batches to be atomic. */
export const supportsBatch = (db: Db): db is BatchDb => typeof (db as Partial<BatchDb>).batch === 'function';

/**
 * Runs `items` as one atomic unit and returns each statement's result. With `batch` that is one
 * round trip; otherwise the caller is already inside a transaction (the Node writer) and the
 * statements simply run in order.
 */
export async function atomically(db: Db, items: Array<BatchItem<'sqlite'>>): Promise<unknown[]> {
  if (items.length === 0) return [];
  if (supportsBatch(db)) return db.batch(items as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
  const results: unknown[] = [];
  for (const item of items) results.push(await item);
  return results;
}

/** D1 binds at most this many parameters per statement; better-sqlite3 far more. */
export const MAX_BOUND_PARAMETERS = 100;

/**
 * Splits `items` so that a statement built from one part stays under D1's parameter limit:
 * `perItem` parameters for each item plus up to `fixed` for the rest of the statement.
 */
export function partsFor<T>(items: readonly T[], perItem: number, fixed = 10): T[][] {
  const size = Math.max(1, Math.floor((MAX_BOUND_PARAMETERS - fixed) / perItem));
  const parts: T[][] = [];
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size));
  return parts;
}

/** A fresh mark token: unique per unit, so concurrent units never read each other's marks. */
export const newToken = () => crypto.randomUUID();

/** True while the unit's mark exists and has found its postback. */
export const markHolds = (token: string): SQL =>
  sql`exists (select 1 from ${writeMarks} where ${and(eq(writeMarks.token, token), isNotNull(writeMarks.postbackId))})`;

/** The id of the postback this unit inserted (null when the insert was ignored). */
export const markedPostbackId = (token: string): SQL => sql`(select ${writeMarks.postbackId} from ${writeMarks} where ${eq(writeMarks.token, token)})`;

/** Opens a mark only if `condition` holds when the batch reaches it. */
export const markIf = (db: Db, token: string, condition: SQL) => db.insert(writeMarks).select(sql`select ${token}, null, 0 where ${condition}`);

export const closeMark = (db: Db, token: string) => db.delete(writeMarks).where(eq(writeMarks.token, token));

/**
 * The three statements that bracket a guarded postback insert: before it, note the newest id; after
 * it, record the id of the row with this body if it is above that floor (then it is ours, since
 * ids only grow); at the end, drop the mark.
 */
export function postbackMark(db: Db, token: string, bodySha256: string) {
  return {
    open: db.insert(writeMarks).select(sql`select ${token}, (select coalesce(max(${postbacks.id}), 0) from ${postbacks}), null where true`),
    settle: db
      .update(writeMarks)
      .set({
        postbackId: sql`(select ${postbacks.id} from ${postbacks} where ${postbacks.bodySha256} = ${bodySha256} and ${postbacks.id} > ${writeMarks.floor})`,
      })
      .where(eq(writeMarks.token, token)),
    close: closeMark(db, token),
  };
}

/**
 * `INSERT … SELECT <values> WHERE <guard>` for `table`: the row is written only if `guard` holds
 * when the statement runs. Values are mapped by their columns (dates, JSON) as plain inserts are;
 * a value may also be SQL (a subquery). Absent values take the column default, else null.
 */
export function guardedValues<T extends SQLiteTable>(table: T, values: Record<string, unknown>, guard: SQL): SQL {
  const columns = Object.entries(getTableColumns(table)) as Array<[string, Column]>;
  const list = columns.map(([name, column]) => {
    const value = values[name];
    if (is(value, SQL)) return value;
    if (value !== undefined) return sql.param(value, column);
    if (column.default !== undefined) return is(column.default, SQL) ? column.default : sql.param(column.default, column);
    return sql`null`;
  });
  // "where" also keeps SQLite from reading a following ON CONFLICT as part of the SELECT.
  return sql`select ${sql.join(list, sql`, `)} where ${guard}`;
}
