// The small, rarely changed tables every write needs (schemas, campaign names, destinations), as one
// snapshot: each driver's unit keeps it in memory and reloads it when the settings revision moves.
import { eq, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { campaigns, conversionSchemas, type DestinationRow, destinations, type LinkRow, links, settingsRevision } from './schema.js';

export interface Settings {
  revision: number;
  schemasByApp: Map<number, Array<typeof conversionSchemas.$inferSelect>>;
  /** Keyed by `campaignKey(adNetworkId, appId)`. */
  campaignsByNetworkApp: Map<string, Array<typeof campaigns.$inferSelect>>;
  /** Enabled destinations. */
  destinations: DestinationRow[];
  /** Tracking links by id: every MMP postback's click names one. */
  links: Map<number, LinkRow>;
}

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

export const revisionQuery = (db: Db) => db.select({ revision: settingsRevision.revision }).from(settingsRevision).where(eq(settingsRevision.id, 1));

/** The three tables, as queries a driver runs one by one or in one batch. */
export const settingsQueries = (db: Db) =>
  [db.select().from(conversionSchemas), db.select().from(campaigns), db.select().from(destinations).where(eq(destinations.enabled, true)), db.select().from(links)] as const;

export type SettingsRows = [Array<typeof conversionSchemas.$inferSelect>, Array<typeof campaigns.$inferSelect>, DestinationRow[], LinkRow[]];

export function settingsOf(revision: number, [schemas, mappings, enabled, linkRows]: SettingsRows): Settings {
  return {
    revision,
    schemasByApp: group(schemas, (s) => s.appId),
    campaignsByNetworkApp: group(mappings, (c) => campaignKey(c.adNetworkId, c.appId)),
    destinations: enabled,
    links: new Map(linkRows.map((l) => [l.id, l])),
  };
}
