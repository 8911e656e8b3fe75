// API keys: random secrets shown once, stored as SHA-256 (they carry 256 bits of entropy, so a
// fast hash is enough), looked up by hash.
import { asc, eq } from 'drizzle-orm';
import { base64url, sha256Hex } from '../hash.js';
import type { Db } from './db.js';
import { apiKeys } from './schema.js';

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type Role = ApiKeyRow['role'];

export interface NewApiKey {
  name: string;
  role: Role;
  app_ids?: number[] | null | undefined;
  ad_network_ids?: string[] | null | undefined;
}

/** 256 random bits, base64url, after a prefix that says what the secret is for. */
export function newSecret(prefix = 'skp_'): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `${prefix}${base64url(bytes)}`;
}

/** A scope given as an empty list: refused, never read as "every app". */
export class EmptyScopeError extends Error {
  constructor(readonly field: 'app_ids' | 'ad_network_ids') {
    super(`an empty scope is refused: omit ${field} for a key without one`);
  }
}

export async function createApiKey(db: Db, input: NewApiKey, now: Date): Promise<{ key: ApiKeyRow; secret: string }> {
  // null means every app or network; an empty list must never be taken for it.
  if (input.app_ids?.length === 0) throw new EmptyScopeError('app_ids');
  if (input.ad_network_ids?.length === 0) throw new EmptyScopeError('ad_network_ids');
  const secret = newSecret();
  const [key] = await db
    .insert(apiKeys)
    .values({
      name: input.name,
      role: input.role,
      appIds: input.app_ids ?? null,
      adNetworkIds: input.ad_network_ids ?? null,
      secretSha256: sha256Hex(secret),
      prefix: secret.slice(0, 8),
      createdAt: now,
    })
    .returning();
  return { key: key!, secret };
}

export const listApiKeys = (db: Db) => db.select().from(apiKeys).orderBy(asc(apiKeys.id));

export async function findApiKey(db: Db, secret: string): Promise<ApiKeyRow | undefined> {
  const [key] = await db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.secretSha256, sha256Hex(secret)));
  return key;
}

export async function getApiKey(db: Db, id: number): Promise<ApiKeyRow | undefined> {
  const [key] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return key;
}

export async function deleteApiKey(db: Db, id: number): Promise<boolean> {
  return (await db.delete(apiKeys).where(eq(apiKeys.id, id)).returning()).length > 0;
}

/** What a client sees of a key: never the secret or its hash. */
export const publicKey = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  app_ids: k.appIds,
  ad_network_ids: k.adNetworkIds,
  prefix: k.prefix,
  created_at: k.createdAt.toISOString(),
});
