// The aggregate upserts: a row's counts are added to what its key already holds. Each driver runs
// them its own way (prepared on better-sqlite3, in a guarded batch on D1); the SQL is this.
import { sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { keyColumns, ROLLUP_KEY, ROLLUP_MEASURES, type RollupMeasures, rollupEvents, rollups } from './schema.js';

/** `column + excluded.column` for every measure. */
const addMeasures = Object.fromEntries(ROLLUP_MEASURES.map((m) => [m, sql`${rollups[m]} + excluded.${sql.identifier(rollups[m].name)}`])) as Record<
  keyof RollupMeasures,
  ReturnType<typeof sql>
>;

export const rollupConflict = { target: keyColumns(rollups), set: addMeasures };

export const eventConflict = {
  target: [...keyColumns(rollupEvents), rollupEvents.event],
  set: {
    postbacks: sql`${rollupEvents.postbacks} + excluded.postbacks`,
    countMin: sql`${rollupEvents.countMin} + excluded.count_min`,
    countMax: sql`${rollupEvents.countMax} + excluded.count_max`,
  },
};

const placeholders = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, sql.placeholder(n)])) as never;

/** The upserts with a placeholder per column, for a driver that keeps statements (better-sqlite3). */
export const upsertRollup = (db: Db) =>
  db
    .insert(rollups)
    .values(placeholders([...ROLLUP_KEY, ...ROLLUP_MEASURES]))
    .onConflictDoUpdate(rollupConflict);

export const upsertEvent = (db: Db) =>
  db
    .insert(rollupEvents)
    .values(placeholders([...ROLLUP_KEY, 'event', 'postbacks', 'countMin', 'countMax']))
    .onConflictDoUpdate(eventConflict);
