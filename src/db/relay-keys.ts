// Relay keys: what a network presents when it relays an advertiser's developer copies to the
// ingest paths. Secrets are shown once and kept as SHA-256, as API keys are.
import { asc, eq } from 'drizzle-orm';
import { sha256Hex } from '../hash.js';
import { newSecret } from './api-keys.js';
import type { Db } from './db.js';
import { type RelayKeyRow, relayKeys } from './schema.js';

export async function createRelayKey(db: Db, input: { name: string; ad_network_id?: string | null | undefined }, now: Date): Promise<{ key: RelayKeyRow; secret: string }> {
  const secret = newSecret('skr_');
  const [key] = await db
    .insert(relayKeys)
    .values({ name: input.name, adNetworkId: input.ad_network_id ?? null, secretSha256: sha256Hex(secret), prefix: secret.slice(0, 8), createdAt: now })
    .returning();
  return { key: key!, secret };
}

export const relayKeyNamed = async (db: Db, name: string): Promise<RelayKeyRow | undefined> => (await db.select().from(relayKeys).where(eq(relayKeys.name, name)))[0];

export const listRelayKeys = (db: Db) => db.select().from(relayKeys).orderBy(asc(relayKeys.id));

export async function findRelayKey(db: Db, secret: string): Promise<RelayKeyRow | undefined> {
  const [key] = await db
    .select()
    .from(relayKeys)
    .where(eq(relayKeys.secretSha256, sha256Hex(secret)));
  return key;
}

export async function deleteRelayKey(db: Db, id: number): Promise<boolean> {
  return (await db.delete(relayKeys).where(eq(relayKeys.id, id)).returning()).length > 0;
}

/** What a client sees of a relay key: never the secret or its hash. */
export const publicRelayKey = (k: RelayKeyRow) => ({
  id: k.id,
  name: k.name,
  ad_network_id: k.adNetworkId,
  channel: `relay:${k.name}`,
  prefix: k.prefix,
  created_at: k.createdAt.toISOString(),
});
