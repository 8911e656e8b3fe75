// The small, rarely changed tables every ingest needs (schemas, campaign names, destinations),
// held in memory per database handle and reloaded when the settings revision moves.
import { eq, sql } from 'drizzle-orm';
import type { Db } from './db.js';
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

export async function loadSettings(db: Db): Promise<Settings> {
  const row = await prepared(db, 'settingsRevision', (d) =>
    d.select({ revision: settingsRevision.revision }).from(settingsRevision).where(eq(settingsRevision.id, 1)).prepare(),
  ).get();
  const revision = row?.revision ?? 0;
  const cached = cache.get(db);
  if (cached && cached.revision === revision) return cached;
  const settings: Settings = {
    revision,
    schemasByApp: group(await db.select().from(conversionSchemas), (s) => s.appId),
    campaignsByNetworkApp: group(await db.select().from(campaigns), (c) => campaignKey(c.adNetworkId, c.appId)),
    destinations: await db.select().from(destinations).where(eq(destinations.enabled, true)),
  };
  cache.set(db, settings);
  return settings;
}
