// Opens the SQLite file with durable settings and applies the committed migrations.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type { Synchronous } from '../config.js';
import * as schema from '../db/schema.js';

export const MIGRATIONS_FOLDER = resolve(dirname(fileURLToPath(import.meta.url)), '../../drizzle');

export interface NodeDatabase {
  sqlite: Database.Database;
  db: BetterSQLite3Database<typeof schema>;
}

/**
 * drizzle asks better-sqlite3 to prepare every statement on every call; preparing costs more than
 * running the small statements of ingest. Statements are reusable, so keep the recent ones.
 */
function cacheStatements(sqlite: Database.Database, size = 256): Database.Database {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, Database.Statement>();
  sqlite.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (statement) {
      cache.delete(source); // most recently used last
      // drizzle switches statements to raw (array) rows and never back: hand it out as new.
      if (statement.reader) statement.raw(false);
    } else {
      statement = prepare(source);
      if (cache.size >= size) cache.delete(cache.keys().next().value!);
    }
    cache.set(source, statement);
    return statement;
  }) as Database.Database['prepare'];
  return sqlite;
}

export function openDatabase(path: string, options: { synchronous?: Synchronous } = {}): NodeDatabase {
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = cacheStatements(new Database(path));
  // WAL lets readers (reports, the CLI) run beside the writer; FULL makes every commit durable
  // before its 200 goes out, at the cost of one fsync per group commit.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // A checkpoint every 10,000 pages (~40 MB of WAL) rather than SQLite's 1,000: the writer copies
  // a page hit by many commits once instead of ten times, and waits on the file's fsync a tenth as
  // often (-10 % CPU per postback, BENCHMARKS.md). The WAL file is cut back to 64 MiB after a
  // checkpoint that a long read had held off.
  sqlite.pragma('wal_autocheckpoint = 10000');
  sqlite.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  return { sqlite, db };
}

/** A read-only connection to the same file, for queries that must not wait for the writer. */
export function openReader(path: string): NodeDatabase {
  const sqlite = cacheStatements(new Database(path, { readonly: true, fileMustExist: true }));
  sqlite.pragma('busy_timeout = 5000');
  return { sqlite, db: drizzle(sqlite, { schema }) };
}
