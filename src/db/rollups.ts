// Applying a postback's contribution to the aggregates (sign -1 takes it back out).
import { sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { guardedValues } from './batch.js';
import { prepared } from './prepared.js';
import { contributionOf, type Contributor } from '../rollup/contribution.js';
import type { Db } from './db.js';
import { keyColumns, ROLLUP_KEY, ROLLUP_MEASURES, rollupEvents, rollups, type RollupMeasures } from './schema.js';

// column + excluded.column for every measure: the upsert adds a contribution to what is there.
const addMeasures = Object.fromEntries(
  ROLLUP_MEASURES.map((m) => [m, sql`${rollups[m]} + excluded.${sql.identifier(rollups[m].name)}`]),
) as Record<keyof RollupMeasures, ReturnType<typeof sql>>;

const placeholders = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, sql.placeholder(n)])) as never;

const upsertRollup = (db: Db) =>
  db.insert(rollups).values(placeholders([...ROLLUP_KEY, ...ROLLUP_MEASURES])).onConflictDoUpdate({ target: keyColumns(rollups), set: addMeasures }).prepare();

const addEventCounts = {
  target: [...keyColumns(rollupEvents), rollupEvents.event],
  set: {
    postbacks: sql`${rollupEvents.postbacks} + excluded.postbacks`,
    countMin: sql`${rollupEvents.countMin} + excluded.count_min`,
    countMax: sql`${rollupEvents.countMax} + excluded.count_max`,
  },
};

const upsertEvent = (db: Db) =>
  db
    .insert(rollupEvents)
    .values(placeholders([...ROLLUP_KEY, 'event', 'postbacks', 'countMin', 'countMax']))
    .onConflictDoUpdate(addEventCounts)
    .prepare();

/** The rows a contribution adds to (or, with sign -1, takes from): one rollup, one per event. */
function signedRows(row: Contributor, sign: 1 | -1) {
  const c = contributionOf(row);
  if (!c) return undefined;
  // Built with one spread and a loop: this runs for every postback written.
  const rollup: Record<string, unknown> = { ...c.key };
  for (const m of ROLLUP_MEASURES) rollup[m] = sign * c.measures[m];
  return {
    rollup,
    events: c.events.map((e) => ({ ...c.key, event: e.event, postbacks: sign, countMin: sign * e.countMin, countMax: sign * e.countMax })),
  };
}

export async function applyContribution(db: Db, row: Contributor, sign: 1 | -1): Promise<void> {
  const rows = signedRows(row, sign);
  if (!rows) return;
  await prepared(db, 'upsertRollup', upsertRollup).run(rows.rollup);
  for (const event of rows.events) await prepared(db, 'upsertEvent', upsertEvent).run(event);
}

/** The same upserts as statements for a batch, each applied only while `guard` holds. */
export function contributionStatements(db: Db, row: Contributor, sign: 1 | -1, guard: SQL): Array<BatchItem<'sqlite'>> {
  const rows = signedRows(row, sign);
  if (!rows) return [];
  return [
    db.insert(rollups).select(guardedValues(rollups, rows.rollup, guard)).onConflictDoUpdate({ target: keyColumns(rollups), set: addMeasures }),
    ...rows.events.map((event) => db.insert(rollupEvents).select(guardedValues(rollupEvents, event, guard)).onConflictDoUpdate(addEventCounts)),
  ];
}
