// SQL that stays portable across both drivers: inserts that hold a condition, and statements cut
// to D1's limit on bound parameters (better-sqlite3 allows far more, so a statement that passes on
// Node could fail on D1).
import { type Column, getTableColumns, is, SQL, sql } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';

/** D1 binds at most this many parameters per statement. */
const MAX_BOUND_PARAMETERS = 100;

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

/**
 * `SELECT <values> WHERE <guard>` for an `INSERT … SELECT` into `table`: the row is written only if
 * `guard` holds when the statement runs. Values are mapped by their columns (dates, JSON) as plain
 * inserts are; a value may also be SQL (a subquery). Absent values take the column default, else null.
 */
export function guardedValues<T extends SQLiteTable>(table: T, values: Record<string, unknown>, guard: SQL): SQL {
  // "where" also keeps SQLite from reading a following ON CONFLICT as part of the SELECT.
  return sql`select ${columnValues(table, values)} where ${guard}`;
}

/**
 * Every column of `table` in its order, as an `INSERT … SELECT` needs them: the value given (SQL
 * over the rest of the query, or a value mapped by its column), else the default, else null.
 * Lets an insert built from other tables stay a lazy query a batch runs in its turn.
 */
export function columnValues<T extends SQLiteTable>(table: T, values: Record<string, unknown>): SQL {
  const columns = Object.entries(getTableColumns(table)) as Array<[string, Column]>;
  const list = columns.map(([name, column]) => {
    const value = values[name];
    if (is(value, SQL)) return value;
    if (value !== undefined) return sql.param(value, column);
    if (column.default !== undefined) return is(column.default, SQL) ? column.default : sql.param(column.default, column);
    return sql`null`;
  });
  return sql.join(list, sql`, `);
}
