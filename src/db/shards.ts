// Where an app's rows live. Node keeps everything in one SQLite file: one shard. A Worker keeps its
// settings in `DB` and each app's postbacks, clicks, figures, aggregates and outbox on one of the D1
// databases `SHARD_0` … `SHARD_{N-1}` (or on `DB` itself when none is bound), as the shard map in
// `DB` says. Ids shown outside carry their shard, so one integer still names one row.
import { count, eq, inArray, type SQL, type SQLWrapper, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { type Db, StorageUnavailableError } from './db.js';
import { appShards, hiddenApps } from './schema.js';
import type { Writer } from './store.js';

/** Local ids stay below this; shard k's rows are shown as k·2⁴⁰ + their id (shard 0's as they are). */
const SHARD_ID_SPAN = 2 ** 40;

export const globalId = (shard: number, local: number): number => shard * SHARD_ID_SPAN + local;

/** The shard and local id an outside id names. */
export const splitId = (id: number): { shard: number; local: number } => ({ shard: Math.floor(id / SHARD_ID_SPAN), local: id % SHARD_ID_SPAN });

/**
 * The app's writes are held while a move makes its final copy (`app_shards.held_since`): the caller
 * keeps the write in `held_messages` (answering `queued`), and the move writes it after the switch.
 */
export class AppHeldError extends StorageUnavailableError {
  constructor(readonly appId: number) {
    super(`app_moving: app ${appId} is being moved between shards; its writes are held until the switch`);
  }
}

/**
 * The row's app counts on this database: no move is copying it in or deleting it here. Every read
 * of per-app rows adds it, so a report never counts an app on two shards, or half of one.
 */
export const answeredHere = (appId: SQLWrapper): SQL => sql`not exists (select 1 from ${hiddenApps} where ${hiddenApps.appId} = ${appId})`;

export interface Shard {
  readonly index: number;
  readonly db: Db;
  /** Units on this shard read the settings from `DB`. */
  readonly writer: Writer;
}

export interface Shards {
  /** Every shard, in index order. */
  readonly all: readonly Shard[];
  /**
   * The shard holding `appId` (null: postbacks that name no app), placing the app the first time.
   * Throws `AppHeldError` while a move holds the app's writes.
   */
  place(appId: number | null | undefined): Promise<Shard>;
  /**
   * The shards holding any of `appIds` (null: every shard), in index order; apps never seen have none.
   * Read from the map itself, not what the isolate remembers: a report right after a move's switch
   * goes to the app's new shard.
   */
  holding(appIds: readonly number[] | null): Promise<Shard[]>;
  /** The shard an outside id names, if it is bound. */
  ofId(id: number): Shard | undefined;
  /** How many apps each shard holds (null with no map: one database), bound or not. */
  census(): Promise<Array<{ shard: number; apps: number | null; bound: boolean }>>;
  /** The shard of each of `appIds` that has one. */
  placements(appIds: readonly number[]): Promise<Map<number, number>>;
}

/** Node, and anything else with a single database: every app on it, no map to consult. */
export function singleShard(db: Db, writer: Writer): Shards {
  const shard: Shard = { index: 0, db, writer };
  return {
    all: [shard],
    place: async () => shard,
    holding: async () => [shard],
    ofId: (id) => (splitId(id).shard === 0 ? shard : undefined),
    census: async () => [{ shard: 0, apps: null, bound: true }],
    placements: async (appIds) => new Map(appIds.map((appId) => [appId, 0])),
  };
}

/** How long an isolate trusts what it read of the map: a move's final copy waits longer than this. */
export const SHARD_MAP_TTL_MS = 30_000;

/** What an isolate remembers of the map: app → shard, with when it was read. */
export type ShardMapCache = Map<number, { shard: number; readAt: number }>;

const NO_APP = -1;

type BatchDb = Db & { batch(items: readonly [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]): Promise<unknown[]> };

/**
 * The shard map in `DB` (table app_shards). An app is placed the first time it is seen, on the
 * shard holding the fewest apps (the lowest index on a tie); racing placements agree on the row
 * that went in first. Used with a single bound database too, so that shards added later find every
 * existing app where its rows are. `bound` shards are bound; `open(index)` makes one's handle, once
 * and only when it is used (a request that writes one app opens one shard, whatever N is).
 */
export function mappedShards(settingsDb: Db, bound: number, open: (index: number) => Shard, cache: ShardMapCache, now: () => number = Date.now): Shards {
  const opened: Shard[] = [];
  const handle = (index: number): Shard | undefined => {
    if (index < 0 || index >= bound) return undefined;
    opened[index] ??= open(index);
    return opened[index];
  };
  const all = () => Array.from({ length: bound }, (_, index) => handle(index)!);
  const shardAt = (index: number, appId: number): Shard => {
    const shard = handle(index);
    // A binding removed while apps are on it: refuse (503, retried) rather than write elsewhere.
    if (!shard) throw new StorageUnavailableError(`shard_not_bound: app ${appId} is on SHARD_${index}, which is not bound`);
    return shard;
  };
  const cached = (appId: number) => {
    const hit = cache.get(appId);
    return hit && now() - hit.readAt < SHARD_MAP_TTL_MS ? hit.shard : undefined;
  };
  const remember = (appId: number, shard: number) => {
    if (cache.size >= 100_000) cache.clear();
    cache.set(appId, { shard, readAt: now() });
  };
  /** App → shard; `held` gathers the apps whose writes a move holds (never remembered: the hold is short). */
  const lookup = async (appIds: readonly number[], fresh: boolean, held?: Set<number>): Promise<Map<number, number>> => {
    const found = new Map<number, number>();
    const missing: number[] = [];
    for (const appId of appIds) {
      const shard = fresh ? undefined : cached(appId);
      if (shard === undefined) missing.push(appId);
      else found.set(appId, shard);
    }
    for (let i = 0; i < missing.length; i += 90) {
      const rows = await settingsDb
        .select({ appId: appShards.appId, shard: appShards.shard, heldSince: appShards.heldSince })
        .from(appShards)
        .where(inArray(appShards.appId, missing.slice(i, i + 90)));
      for (const row of rows) {
        if (row.heldSince) held?.add(row.appId);
        else remember(row.appId, row.shard);
        found.set(row.appId, row.shard);
      }
    }
    return found;
  };

  return {
    get all() {
      return all();
    },
    ofId: (id) => handle(splitId(id).shard),
    async place(appId) {
      const key = appId ?? NO_APP;
      const held = new Set<number>();
      const known = (await lookup([key], false, held)).get(key);
      if (held.has(key)) throw new AppHeldError(key);
      if (known !== undefined) return shardAt(known, key);
      // One round trip: the least-full shard chosen, the row put in unless a racing placement won,
      // and whichever went in read back.
      const indexes = sql.join(
        Array.from({ length: bound }, (_, index) => sql`select ${index} as i`),
        sql` union all `,
      );
      const least = sql`(select i from (${indexes}) order by (select count(*) from ${appShards} where ${appShards.shard} = i), i limit 1)`;
      const [, placed] = (await (settingsDb as BatchDb).batch([
        settingsDb.insert(appShards).select(sql`select ${key}, ${least}, ${now()}, null where true`).onConflictDoNothing(),
        settingsDb.select({ shard: appShards.shard }).from(appShards).where(eq(appShards.appId, key)),
      ])) as [unknown, Array<{ shard: number }>];
      remember(key, placed[0]!.shard);
      return shardAt(placed[0]!.shard, key);
    },
    async census() {
      const counts = await settingsDb.select({ shard: appShards.shard, apps: count() }).from(appShards).groupBy(appShards.shard);
      const indexes = [...new Set([...Array.from({ length: bound }, (_, index) => index), ...counts.map((c) => c.shard)])].sort((a, b) => a - b);
      return indexes.map((shard) => ({ shard, apps: counts.find((c) => c.shard === shard)?.apps ?? 0, bound: shard < bound }));
    },
    placements: (appIds) => lookup(appIds, true),
    async holding(appIds) {
      if (appIds === null) return all();
      const holders = new Map<number, Shard>();
      for (const [appId, index] of await lookup(appIds, true)) holders.set(index, shardAt(index, appId));
      return [...holders.values()].sort((a, b) => a.index - b.index);
    },
  };
}

/**
 * One page of rows in id order across `shards` (index order), after the outside id `cursor`: the
 * rest of the cursor's shard, then the shards after it. Rows come back with outside ids (`id` and
 * the columns `ids` names, which point at rows of the same shard).
 */
export async function pageAcross<T extends { id: number }>(
  shards: readonly Shard[],
  cursor: number,
  limit: number,
  list: (shard: Shard, afterLocal: number, limit: number) => Promise<T[]>,
  ids: ReadonlyArray<NoInfer<keyof T>> = [],
): Promise<T[]> {
  const from = splitId(cursor);
  const page: T[] = [];
  for (const shard of shards) {
    if (shard.index < from.shard) continue;
    const rows = await list(shard, shard.index === from.shard ? from.local : 0, limit - page.length);
    for (const row of rows) page.push(outside(shard, row, ids));
    if (page.length >= limit) break;
  }
  return page;
}

/** `row` with its ids as shown outside. */
export function outside<T extends { id: number }>(shard: Shard, row: T, ids: ReadonlyArray<keyof T> = []): T {
  if (shard.index === 0) return row;
  const out = { ...row, id: globalId(shard.index, row.id) };
  for (const key of ids) if (typeof out[key] === 'number') (out as Record<keyof T, unknown>)[key] = globalId(shard.index, out[key] as number);
  return out;
}

/** `items` by the shard holding each one's app (placing apps seen for the first time), in index order. */
export async function groupByShard<T>(shards: Shards, items: readonly T[], appOf: (item: T) => number | null | undefined): Promise<Array<[Shard, T[]]>> {
  const groups = new Map<Shard, T[]>();
  for (const item of items) {
    const shard = await shards.place(appOf(item));
    const group = groups.get(shard);
    if (group) group.push(item);
    else groups.set(shard, [item]);
  }
  return [...groups].sort(([a], [b]) => a.index - b.index);
}
