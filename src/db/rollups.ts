// Applying a postback's contribution to the aggregates (sign -1 takes it back out).
import { sql } from 'drizzle-orm';
import { contributionOf, type Contributor } from '../rollup/contribution.js';
import type { Db } from './db.js';
import { keyColumns, rollupEvents, rollups } from './schema.js';

export async function applyContribution(db: Db, row: Contributor, sign: 1 | -1): Promise<void> {
  const c = contributionOf(row);
  if (!c) return;
  await db
    .insert(rollups)
    .values({ ...c.key, postbacks: sign * c.postbacks, conflicts: sign * c.conflicts, revenueMinMicros: sign * c.revenueMinMicros, revenueMaxMicros: sign * c.revenueMaxMicros })
    .onConflictDoUpdate({
      target: keyColumns(rollups),
      set: {
        postbacks: sql`${rollups.postbacks} + excluded.postbacks`,
        conflicts: sql`${rollups.conflicts} + excluded.conflicts`,
        revenueMinMicros: sql`${rollups.revenueMinMicros} + excluded.revenue_min_micros`,
        revenueMaxMicros: sql`${rollups.revenueMaxMicros} + excluded.revenue_max_micros`,
      },
    });
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
