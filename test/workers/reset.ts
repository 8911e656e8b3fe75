// Empties every table: workerd test files share their D1 databases, and each case wants a known start.
// What the isolate remembers of them goes too (the shard map's placements).
import { getTableName, sql } from 'drizzle-orm';
import { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../../src/db/db.js';
import * as schema from '../../src/db/schema.js';
import { forgetShardPlacements } from '../../src/worker/runtime.js';

const tables = Object.values(schema).filter((t) => t instanceof SQLiteTable) as unknown as SQLiteTable[];

export async function resetTables(db: Db): Promise<void> {
  for (const table of tables) await db.run(sql`delete from ${sql.identifier(getTableName(table))}`);
  await db.run(sql`delete from sqlite_sequence`);
  forgetShardPlacements();
}
