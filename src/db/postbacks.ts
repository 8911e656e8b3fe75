// Reading stored postbacks: the lookups dedupe needs, the rows `reverify` revisits, and the
// listing and export of the API. Writing them goes through a Unit (db/store.ts).
import { and, asc, eq, gt, gte, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { prepared } from './prepared.js';
import { type PostbackRow, postbacks } from './schema.js';
import { answeredHere } from './shards.js';

const byBody = (db: Db) =>
  db
    .select({ id: postbacks.id, firstId: postbacks.firstId, receivedAt: postbacks.receivedAt, channel: postbacks.channel })
    .from(postbacks)
    .where(eq(postbacks.bodySha256, sql.placeholder('sha')))
    .prepare();

const byDedupeKey = (db: Db) =>
  db
    .select()
    .from(postbacks)
    .where(eq(postbacks.dedupeKey, sql.placeholder('key')))
    .prepare();

const byId = (db: Db) =>
  db
    .select()
    .from(postbacks)
    .where(eq(postbacks.id, sql.placeholder('id')))
    .prepare();

/** The kept row with this exact body, if any. */
export const findByBody = async (db: Db, bodySha256: string): Promise<Pick<PostbackRow, 'id' | 'firstId' | 'receivedAt' | 'channel'> | undefined> =>
  await prepared(db, 'byBody', byBody).get({ sha: bodySha256 });

/** The row that claims a dedupe key, if any. */
export const findByDedupeKey = async (db: Db, key: string): Promise<PostbackRow | undefined> => await prepared(db, 'byDedupeKey', byDedupeKey).get({ key });

export const postbackById = async (db: Db, id: number): Promise<PostbackRow | undefined> => await prepared(db, 'postbackById', byId).get({ id });

/** Rows whose verdict a new key or recipe may change, in id order, for chunked `reverify`. */
export async function listUnsettled(db: Db, afterId: number, limit: number): Promise<PostbackRow[]> {
  return db
    .select()
    .from(postbacks)
    .where(and(gt(postbacks.id, afterId), inArray(postbacks.signature, ['invalid', 'unverifiable'])))
    .orderBy(asc(postbacks.id))
    .limit(limit);
}

export interface PostbackFilter {
  appIds?: number[] | undefined;
  adNetworkIds?: string[] | undefined;
  protocols?: Array<PostbackRow['protocol']> | undefined;
  environments?: Array<PostbackRow['environment']> | undefined;
  signatures?: Array<PostbackRow['signature']> | undefined;
  outcomes?: Array<PostbackRow['outcome']> | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

function conditions(filter: PostbackFilter): SQL[] {
  const where: SQL[] = [answeredHere(postbacks.appId)];
  if (filter.appIds) where.push(inArray(postbacks.appId, filter.appIds));
  if (filter.adNetworkIds) where.push(inArray(postbacks.adNetworkId, filter.adNetworkIds));
  if (filter.protocols) where.push(inArray(postbacks.protocol, filter.protocols));
  if (filter.environments) where.push(inArray(postbacks.environment, filter.environments));
  if (filter.signatures) where.push(inArray(postbacks.signature, filter.signatures));
  if (filter.outcomes) where.push(inArray(postbacks.outcome, filter.outcomes));
  if (filter.since) where.push(gte(postbacks.receivedAt, filter.since));
  if (filter.until) where.push(lt(postbacks.receivedAt, filter.until));
  return where;
}

/** One page of the rows matching `filter`, in id order after `afterId`. */
export function listPostbacks(db: Db, filter: PostbackFilter, afterId: number, limit: number): Promise<PostbackRow[]> {
  return db
    .select()
    .from(postbacks)
    .where(and(gt(postbacks.id, afterId), ...conditions(filter)))
    .orderBy(asc(postbacks.id))
    .limit(limit);
}

/** One row, if it matches `filter` (a key's scope). */
export async function getPostback(db: Db, id: number, filter: PostbackFilter): Promise<PostbackRow | undefined> {
  const [row] = await db
    .select()
    .from(postbacks)
    .where(and(eq(postbacks.id, id), ...conditions(filter)));
  return row;
}

/**
 * Stored (counted) postbacks received since `since`, after `afterId`, for a destination's backfill;
 * not those a move is copying here or deleting from here (their other shard sends them).
 */
export function storedSince(db: Db, since: Date, afterId: number, limit: number): Promise<PostbackRow[]> {
  return db
    .select()
    .from(postbacks)
    .where(and(gte(postbacks.receivedAt, since), gt(postbacks.id, afterId), eq(postbacks.outcome, 'stored'), answeredHere(postbacks.appId)))
    .orderBy(asc(postbacks.id))
    .limit(limit);
}

/** Rewrites columns of one row and returns it as it now is. */
export async function updatePostback(db: Db, id: number, set: Partial<PostbackRow>): Promise<PostbackRow | undefined> {
  const [updated] = await db.update(postbacks).set(set).where(eq(postbacks.id, id)).returning();
  return updated;
}
