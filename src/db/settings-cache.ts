// The small, rarely changed tables every ingest needs (schemas, campaign names, destinations),
// held in memory per database handle and reloaded when the settings revision moves.
import { eq, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { supportsBatch } from './batch.js';
import { prepared } from './prepared.js';
import { campaigns, conversionSchemas, destinations, settingsRevision, type DestinationRow } from './schema.js';

export interface Settings {
  revision: number;
  schemasByApp: Map<number, Array<typeof conversionSchemas.$inferSelect>>;
  /** Keyed by `${adNetworkId}\n${appId}`. */
  campaignsByNetworkApp: Map<string, Array<typeof campaigns.$inferSelect>>;
  destinations: DestinationRow[];
}

const cache = new WeakMap<Db, Settings>();

export const campaignKey = (adNetworkId: string, appId: number) => `${adNetworkId}\n${appId}`;

function group<T, K>(rows: T[], key: (row: T) => K): Map<K, T[]> {
  const map = new Map<K, T[]>();
  for (const row of rows) map.set(key(row), [...(map.get(key(row)) ?? []), row]);
  return map;
}

/** Must run inside the atomic unit that changes a setting (a statement, so a batch can hold it). */
export function bumpSettings(db: Db) {
  return db
    .insert(settingsRevision)
    .values({ id: 1, revision: 1 })
    .onConflictDoUpdate({ target: settingsRevision.id, set: { revision: sql`${settingsRevision.revision} + 1` } });
}

/** What `loadSettings` last read through this handle, without asking the database again. */
export const loadedSettings = (db: Db): Settings | undefined => cache.get(db);

const revisionQuery = (db: Db) => db.select({ revision: settingsRevision.revision }).from(settingsRevision).where(eq(settingsRevision.id, 1));
const enabledDestinations = (db: Db) => db.select().from(destinations).where(eq(destinations.enabled, true));

function settingsOf(
  revision: number,
  schemas: Array<typeof conversionSchemas.$inferSelect>,
  mappings: Array<typeof campaigns.$inferSelect>,
  enabled: DestinationRow[],
): Settings {
  return {
    revision,
    schemasByApp: group(schemas, (s) => s.appId),
    campaignsByNetworkApp: group(mappings, (c) => campaignKey(c.adNetworkId, c.appId)),
    destinations: enabled,
  };
}

export async function loadSettings(db: Db): Promise<Settings> {
  const cached = cache.get(db);
  if (!cached && supportsBatch(db)) {
    // A fresh handle with round trips to a remote database (every request on Workers): the
    // revision and the three tables in one batch instead of four queries.
    const [rows, schemas, mappings, enabled] = (await db.batch([revisionQuery(db), db.select().from(conversionSchemas), db.select().from(campaigns), enabledDestinations(db)])) as [
      Array<{ revision: number }>,
      Array<typeof conversionSchemas.$inferSelect>,
      Array<typeof campaigns.$inferSelect>,
      DestinationRow[],
    ];
    const settings = settingsOf(rows[0]?.revision ?? 0, schemas, mappings, enabled);
    cache.set(db, settings);
    return settings;
  }
  const row = await prepared(db, 'settingsRevision', (d) => revisionQuery(d).prepare()).get();
  const revision = row?.revision ?? 0;
  if (cached && cached.revision === revision) return cached;
  const settings = settingsOf(revision, await db.select().from(conversionSchemas), await db.select().from(campaigns), await enabledDestinations(db));
  cache.set(db, settings);
  return settings;
}
