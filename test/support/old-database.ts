// A database file as an older release left it: only the migrations up to a given one applied.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { getTableColumns, getTableName } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import { MIGRATIONS_FOLDER } from '../../src/node/database.js';

/** Creates `path` with the migrations up to and including the one whose tag starts with `last`. */
export function databaseAt(path: string, last: string): Database.Database {
  const folder = mkdtempSync(join(tmpdir(), 'skanpost-migrations-'));
  try {
    cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
    const journalPath = join(folder, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
    const end = journal.entries.findIndex((e) => e.tag.startsWith(last));
    if (end < 0) throw new Error(`no migration ${last}`);
    writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, end + 1) }));
    const sqlite = new Database(path);
    migrate(drizzle(sqlite), { migrationsFolder: folder });
    return sqlite;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * Inserts rows of today's shape into an older table, only the columns that table has: drizzle
 * would also write columns added since (those with a default), which the old table lacks.
 */
export function insertOld(sqlite: Database.Database, table: SQLiteTable, rows: ReadonlyArray<Record<string, unknown>>): void {
  const have = new Set((sqlite.prepare(`SELECT name FROM pragma_table_info('${getTableName(table)}')`).all() as Array<{ name: string }>).map((c) => c.name));
  const columns = Object.entries(getTableColumns(table)).filter(([key, column]) => have.has(column.name) && key !== 'id');
  const insert = sqlite.prepare(`INSERT INTO "${getTableName(table)}" (${columns.map(([, c]) => `"${c.name}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  for (const row of rows) insert.run(columns.map(([key, c]) => (row[key] === null || row[key] === undefined ? null : c.mapToDriverValue(row[key]))));
}
