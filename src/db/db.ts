// The database type both drivers satisfy, and the writer every write goes through.
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type * as schema from './schema.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Db = BaseSQLiteDatabase<'sync' | 'async', any, typeof schema>;

/**
 * Runs `work` as one atomic unit. Node groups many units into one commit (each unit in its own
 * savepoint, so one failure spoils only itself); the promise settles only after that commit.
 * `work` must touch only the database: awaiting anything else would hold the batch open.
 */
export interface Writer {
  run<T>(work: (db: Db) => Promise<T>): Promise<T>;
}

/** The database cannot take the write right now (busy, disk full, I/O error): retry later. */
export class StorageUnavailableError extends Error {
  constructor(readonly code: string, options?: { cause?: unknown }) {
    super(`storage unavailable: ${code}`, options);
  }
}
