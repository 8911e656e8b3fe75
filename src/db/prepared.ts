// Prepared drizzle queries per database handle: ingest runs the same few statements thousands
// of times, and building their SQL costs more than running it.
import type { Db } from './db.js';

const cache = new WeakMap<Db, Map<string, unknown>>();

export function prepared<T>(db: Db, name: string, build: (db: Db) => T): T {
  let perDb = cache.get(db);
  if (!perDb) {
    perDb = new Map();
    cache.set(db, perDb);
  }
  let query = perDb.get(name) as T | undefined;
  if (query === undefined) {
    query = build(db);
    perDb.set(name, query);
  }
  return query;
}
