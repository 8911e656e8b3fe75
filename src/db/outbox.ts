// Outbox rows: created with the postback in one atomic unit (db/store.ts), claimed with a lease,
// settled, replayed, listed.
import { and, asc, eq, gt, inArray, isNotNull, isNull, lte, or, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { partsFor } from './guarded.js';
import { prepared } from './prepared.js';
import { type DeliveryRow, deliveries, destinations } from './schema.js';
import type { Unit } from './store.js';

/** The destinations that are enabled and not paused, read from `DB` (a shard's outbox names them). */
export const runningDestinations = async (settingsDb: Db): Promise<number[]> =>
  (
    await settingsDb
      .select({ id: destinations.id })
      .from(destinations)
      .where(and(eq(destinations.enabled, true), eq(destinations.paused, false)))
  ).map((d) => d.id);

/**
 * Takes up to `limit` due deliveries of the `running` destinations for `leaseMs`: until then no
 * other sender takes them. One UPDATE … RETURNING, so the claim is atomic on every driver.
 */
export async function claimDue(db: Db, now: Date, leaseMs: number, limit: number, running: readonly number[]): Promise<DeliveryRow[]> {
  const due = db
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(
      and(
        eq(deliveries.state, 'pending'),
        lte(deliveries.nextAttemptAt, now),
        or(isNull(deliveries.claimedUntil), lte(deliveries.claimedUntil, now)),
        // Impressions have no destination: they go to their link's MMP.
        or(isNull(deliveries.destinationId), ...partsFor(running, 1, 20).map((part) => inArray(deliveries.destinationId, part))),
      ),
    )
    .orderBy(asc(deliveries.nextAttemptAt))
    .limit(limit);
  return db
    .update(deliveries)
    .set({ claimedUntil: new Date(now.getTime() + leaseMs) })
    .where(inArray(deliveries.id, due))
    .returning();
}

export interface AttemptResult {
  state: 'delivered' | 'pending' | 'dead';
  status: number | null;
  error: string | null;
  latencyMs: number;
  nextAttemptAt: Date;
}

// Prepared once per handle: the sender settles every delivery it attempts. drizzle's SET takes no
// placeholder, so values are bound through raw SQL, as the driver stores them (timestamps in ms).
const bound = (name: string) => sql`${sql.placeholder(name)}`;
const settle = (db: Db) =>
  db
    .update(deliveries)
    .set({
      state: bound('state'),
      attempts: sql`${deliveries.attempts} + 1`,
      lastStatus: bound('lastStatus'),
      lastError: bound('lastError'),
      lastLatencyMs: bound('lastLatencyMs'),
      nextAttemptAt: bound('nextAttemptAt'),
      claimedUntil: null,
      deliveredAt: bound('deliveredAt'),
    })
    .where(and(eq(deliveries.id, sql.placeholder('id')), eq(deliveries.claimedUntil, sql.placeholder('claimedUntil'))))
    .returning({ id: deliveries.id })
    .prepare();

/** Records an attempt, only if this sender still holds the lease it claimed. */
export async function settleAttempt(db: Db, claimed: DeliveryRow, result: AttemptResult, now: Date): Promise<boolean> {
  const updated = await prepared(db, 'settleAttempt', settle).all({
    state: result.state,
    lastStatus: result.status,
    lastError: result.error,
    lastLatencyMs: Math.round(result.latencyMs),
    nextAttemptAt: result.nextAttemptAt.getTime(),
    deliveredAt: result.state === 'delivered' ? now.getTime() : null,
    id: claimed.id,
    claimedUntil: claimed.claimedUntil!.getTime(),
  });
  return updated.length > 0;
}

/** Makes the given deliveries due now, their attempts counted afresh (dead-letter replay). */
export async function replayDeliveries(tx: Unit, ids: number[], now: Date): Promise<number> {
  const updates = partsFor(ids, 1).map((part) =>
    tx.db
      .update(deliveries)
      .set({ state: 'pending', attempts: 0, nextAttemptAt: now, claimedUntil: null, deliveredAt: null })
      .where(inArray(deliveries.id, part))
      .returning({ id: deliveries.id }),
  );
  return (await tx.batch(updates)).reduce((sum: number, updated) => sum + (updated as unknown[]).length, 0);
}

/**
 * Frees every claim. Only for a sender that knows it is the database's only one (the Node server
 * at start): the claims it finds were left by its predecessor, killed mid-send.
 */
export async function releaseClaims(db: Db): Promise<number> {
  const released = await db.update(deliveries).set({ claimedUntil: null }).where(isNotNull(deliveries.claimedUntil)).returning({ id: deliveries.id });
  return released.length;
}

export type DeliveryState = DeliveryRow['state'];

/** The ids of deliveries matching a filter, oldest first (what a replay by filter replays). */
export const deliveryIdsOf = async (db: Db, filter: { destinationId?: number | undefined; state?: DeliveryState | undefined }, limit = 10_000) =>
  (
    await db
      .select({ id: deliveries.id })
      .from(deliveries)
      .where(
        and(filter.destinationId !== undefined ? eq(deliveries.destinationId, filter.destinationId) : undefined, filter.state ? eq(deliveries.state, filter.state) : undefined),
      )
      .orderBy(asc(deliveries.id))
      .limit(limit)
  ).map((r) => r.id);

/** One page of deliveries, in id order after `afterId`. */
export function listDeliveries(db: Db, filter: { destinationId?: number | undefined; state?: DeliveryState | undefined }, afterId: number, limit: number): Promise<DeliveryRow[]> {
  return db
    .select()
    .from(deliveries)
    .where(
      and(
        gt(deliveries.id, afterId),
        filter.destinationId !== undefined ? eq(deliveries.destinationId, filter.destinationId) : undefined,
        filter.state ? eq(deliveries.state, filter.state) : undefined,
      ),
    )
    .orderBy(asc(deliveries.id))
    .limit(limit);
}

/** Outbox rows by destination and state over every shard, for the metrics; destinations named from `DB`. */
export async function deliveryCounts(settingsDb: Db, shards: ReadonlyArray<{ db: Db }>): Promise<Array<{ destination: number; name: string; state: string; n: number }>> {
  const names = new Map((await settingsDb.select({ id: destinations.id, name: destinations.name }).from(destinations)).map((d) => [d.id, d.name]));
  const counts = new Map<string, { destination: number; name: string; state: string; n: number }>();
  for (const { db } of shards) {
    const rows = await db
      .select({ destination: deliveries.destinationId, state: deliveries.state, n: sql<number>`count(*)` })
      .from(deliveries)
      .where(isNotNull(deliveries.destinationId))
      .groupBy(deliveries.destinationId, deliveries.state);
    for (const row of rows) {
      const name = names.get(row.destination!);
      if (name === undefined) continue;
      const key = `${row.destination} ${row.state}`;
      const seen = counts.get(key);
      if (seen) seen.n += row.n;
      else counts.set(key, { destination: row.destination!, name, state: row.state, n: row.n });
    }
  }
  return [...counts.values()];
}
