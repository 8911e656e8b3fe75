// Destinations as rows: save, change, pause, remove, the outbox rows of a backfill, and the
// figures per destination. What may be saved is decided in forward/destinations.ts.
import { and, asc, desc, eq, getTableColumns, isNotNull, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { partsFor } from './guarded.js';
import { type DestinationRow, deliveries, destinations, type NewDestinationRow } from './schema.js';
import { bumpSettings } from './settings-snapshot.js';
import { globalId, type Shard } from './shards.js';
import type { Unit } from './store.js';

export type DestinationColumns = Omit<NewDestinationRow, 'id' | 'createdAt' | 'updatedAt' | 'paused'>;

export async function insertDestination(tx: Unit, columns: DestinationColumns, now: Date): Promise<DestinationRow> {
  const [inserted] = await tx.batch([
    tx.db
      .insert(destinations)
      .values({ ...columns, createdAt: now, updatedAt: now })
      .returning(),
    bumpSettings(tx.db),
  ]);
  return (inserted as DestinationRow[])[0]!;
}

/** Saves every column of a destination anew (a change also clears `last_error`). */
export async function replaceDestination(tx: Unit, id: number, columns: DestinationColumns, now: Date): Promise<DestinationRow | undefined> {
  const [updated] = await tx.batch([
    tx.db
      .update(destinations)
      .set({ ...columns, lastError: null, updatedAt: now })
      .where(eq(destinations.id, id))
      .returning(),
    bumpSettings(tx.db),
  ]);
  return (updated as DestinationRow[])[0];
}

/** Queues deliveries for a backfill, skipping postbacks that have one; resolves with how many were new. */
export async function insertDeliveries(tx: Unit, destinationId: number, postbackIds: readonly number[], now: Date): Promise<number> {
  const rows = postbackIds.map((postbackId) => ({ postbackId, destinationId, state: 'pending' as const, nextAttemptAt: now, createdAt: now }));
  const inserts = partsFor(rows, Object.keys(getTableColumns(deliveries)).length).map((part) =>
    tx.db.insert(deliveries).values(part).onConflictDoNothing().returning({ id: deliveries.id }),
  );
  return (await tx.batch(inserts)).reduce((sum: number, inserted) => sum + (inserted as unknown[]).length, 0);
}

export const listDestinations = (db: Db) => db.select().from(destinations).orderBy(asc(destinations.id));

export async function getDestination(db: Db, id: number): Promise<DestinationRow | undefined> {
  const [row] = await db.select().from(destinations).where(eq(destinations.id, id));
  return row;
}

/** A destination's outbox rows on one shard (a sharded Worker's shards hold theirs). */
export const forgetDeliveries = (tx: Unit, destinationId: number) => tx.batch([tx.db.delete(deliveries).where(eq(deliveries.destinationId, destinationId))]);

/** Removes a destination and its outbox rows: nothing more is sent to it. */
export async function deleteDestination(tx: Unit, id: number): Promise<boolean> {
  if (!(await getDestination(tx.db, id))) return false;
  await tx.batch([tx.db.delete(deliveries).where(eq(deliveries.destinationId, id)), tx.db.delete(destinations).where(eq(destinations.id, id)), bumpSettings(tx.db)]);
  return true;
}

export async function setPaused(db: Db, id: number, paused: boolean, now: Date): Promise<DestinationRow | undefined> {
  const [row] = await db.update(destinations).set({ paused, updatedAt: now }).where(eq(destinations.id, id)).returning();
  return row;
}

const percentile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : null);

/** Delivered, pending, retrying and dead copies of a destination, its last success and error, and its latency, over every shard. */
export async function destinationStats(shards: readonly Shard[], id: number) {
  const parts = await Promise.all(shards.map((shard) => shardStats(shard, id)));
  const sum = (state: string, key: 'n' | 'retrying') => parts.reduce((total, p) => total + Number(p.counts.find((c) => c.state === state)?.[key] ?? 0), 0);
  const lastSuccess = parts.map((p) => p.lastSuccess).reduce<Date | null>((a, b) => (b && (!a || b > a) ? b : a), null);
  const lastError = parts.map((p) => p.lastError).reduce((a, b) => (b && (!a || b.at > a.at) ? b : a), undefined);
  // Latency of the most recent 1,000 successful sends.
  const latencies = parts
    .flatMap((p) => p.latencies)
    .sort((a, b) => b.at - a.at)
    .slice(0, 1000)
    .map((l) => l.ms)
    .sort((a, b) => a - b);
  const pending = sum('pending', 'n');
  const retrying = sum('pending', 'retrying');
  return {
    delivered: sum('delivered', 'n'),
    pending: pending - retrying,
    retrying,
    dead: sum('dead', 'n'),
    last_success_at: lastSuccess?.toISOString() ?? null,
    last_error: lastError ? { delivery_id: lastError.id, status: lastError.status, error: lastError.error } : null,
    latency_ms: { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99) },
  };
}

async function shardStats({ db, index }: Shard, id: number) {
  const counts = await db
    .select({ state: deliveries.state, retrying: sql<number>`sum(${deliveries.attempts} > 0)`, n: sql<number>`count(*)` })
    .from(deliveries)
    .where(eq(deliveries.destinationId, id))
    .groupBy(deliveries.state);
  const [lastSuccess] = await db
    .select({ at: deliveries.deliveredAt })
    .from(deliveries)
    .where(and(eq(deliveries.destinationId, id), eq(deliveries.state, 'delivered')))
    .orderBy(desc(deliveries.deliveredAt))
    .limit(1);
  const [lastError] = await db
    .select({ error: deliveries.lastError, status: deliveries.lastStatus, at: deliveries.nextAttemptAt, id: deliveries.id })
    .from(deliveries)
    .where(and(eq(deliveries.destinationId, id), isNotNull(deliveries.lastError)))
    .orderBy(desc(deliveries.id))
    .limit(1);
  const latencies = await db
    .select({ ms: deliveries.lastLatencyMs, at: deliveries.deliveredAt })
    .from(deliveries)
    .where(and(eq(deliveries.destinationId, id), eq(deliveries.state, 'delivered'), isNotNull(deliveries.lastLatencyMs)))
    .orderBy(desc(deliveries.deliveredAt))
    .limit(1000);
  return {
    counts,
    lastSuccess: lastSuccess?.at ?? null,
    lastError: lastError && { ...lastError, id: globalId(index, lastError.id) },
    latencies: latencies.map((l) => ({ ms: l.ms!, at: l.at?.getTime() ?? 0 })),
  };
}
