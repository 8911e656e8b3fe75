// Applying a postback's contribution to the aggregates (sign -1 takes it back out).
import { sql } from 'drizzle-orm';
import { contributionOf, type Contributor } from '../rollup/contribution.js';
import type { Db } from './db.js';
import { keyColumns, ROLLUP_MEASURES, rollupEvents, rollups, type RollupMeasures } from './schema.js';

// column + excluded.column for every measure: the upsert adds a contribution to what is there.
const addMeasures = Object.fromEntries(
  ROLLUP_MEASURES.map((m) => [m, sql`${rollups[m]} + excluded.${sql.identifier(rollups[m].name)}`]),
) as Record<keyof RollupMeasures, ReturnType<typeof sql>>;

export async function applyContribution(db: Db, row: Contributor, sign: 1 | -1): Promise<void> {
  const c = contributionOf(row);
  if (!c) return;
  await db
    .insert(rollups)
    .values({ ...c.key, ...(Object.fromEntries(ROLLUP_MEASURES.map((m) => [m, sign * c.measures[m]])) as RollupMeasures) })
    .onConflictDoUpdate({ target: keyColumns(rollups), set: addMeasures });
  for (const e of c.events) {
    await db
      .insert(rollupEvents)
      .values({ ...c.key, event: e.event, postbacks: sign, countMin: sign * e.countMin, countMax: sign * e.countMax })
      .onConflictDoUpdate({
        target: [...keyColumns(rollupEvents), rollupEvents.event],
        set: {
          postbacks: sql`${rollupEvents.postbacks} + excluded.postbacks`,
          countMin: sql`${rollupEvents.countMin} + excluded.count_min`,
          countMax: sql`${rollupEvents.countMax} + excluded.count_max`,
        },
      });
  }
}
