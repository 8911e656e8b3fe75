// The database type both drivers satisfy, and the error a write gives when it may succeed later.
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type * as schema from './schema.js';

// biome-ignore lint/suspicious/noExplicitAny: drizzle's result type differs per driver (better-sqlite3, D1)
export type Db = BaseSQLiteDatabase<'sync' | 'async', any, typeof schema>;

/** The database cannot take the write right now (busy, disk full, I/O error): retry later. */
export class StorageUnavailableError extends Error {
  constructor(
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`storage unavailable: ${code}`, options);
  }
}
