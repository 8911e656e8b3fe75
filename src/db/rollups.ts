// Applying a postback's contribution to the aggregates (sign -1 takes it back out).
import { sql } from 'drizzle-orm';
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

const upsertEvent = (db: Db) =>
  db
    .insert(rollupEvents)
    .values(placeholders([...ROLLUP_KEY, 'event', 'postbacks', 'countMin', 'countMax']))
    .onConflictDoUpdate({
      target: [...keyColumns(rollupEvents), rollupEvents.event],
      set: {
        postbacks: sql`${rollupEvents.postbacks} + excluded.postbacks`,
        countMin: sql`${rollupEvents.countMin} + excluded.count_min`,
        countMax: sql`${rollupEvents.countMax} + excluded.count_max`,
      },
    })
    .prepare();

export async function applyContribution(db: Db, row: Contributor, sign: 1 | -1): Promise<void> {
  const c = contributionOf(row);
  if (!c) return;
  const measures = Object.fromEntries(ROLLUP_MEASURES.map((m) => [m, sign * c.measures[m]]));
  await prepared(db, 'upsertRollup', upsertRollup).run({ ...c.key, ...measures });
  for (const e of c.events) {
    await prepared(db, 'upsertEvent', upsertEvent).run({ ...c.key, event: e.event, postbacks: sign, countMin: sign * e.countMin, countMax: sign * e.countMax });
  }
}
