// The repository contract on D1 inside workerd, through the Worker's own writer.
import { env } from 'cloudflare:test';
import { getTableName, sql } from 'drizzle-orm';
import { SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as schema from '../../src/db/schema.js';
import { createWorkerRuntime } from '../../src/worker/runtime.js';
import { repositoryContract } from '../support/repository-contract.js';

const tables = Object.values(schema).filter((t): t is SQLiteTable => t instanceof SQLiteTable);

repositoryContract('D1', async () => {
  const { db, writer } = await createWorkerRuntime(env);
  // Each case starts from empty tables, as on Node where each gets a fresh in-memory database.
  for (const table of tables) await db.run(sql`delete from ${sql.identifier(getTableName(table))}`);
  await db.run(sql`delete from sqlite_sequence`);
  return { db, writer };
});
