// Outbox rows: created with the postback in one atomic unit, claimed with a lease, settled.
import { and, asc, eq, inArray, isNotNull, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { atomically, guardedValues, partsFor } from './batch.js';
import { wants } from '../forward/route.js';
import type { Db } from './db.js';
import { prepared } from './prepared.js';
import { deliveries, destinations, type DeliveryRow, type DestinationRow, type PostbackRow } from './schema.js';

type Routed = Omit<PostbackRow, 'id'>;

/** The destinations that get a copy of `postback` (duplicates and conflicts: none). */
const targetsOf = (postback: Routed, enabled: DestinationRow[]) => (postback.outcome === 'stored' ? enabled.filter((d) => wants(d, postback as PostbackRow)) : []);

// One prepared row per copy rather than a multi-row insert built per postback: on the write
// path, building the statement cost more than running it.
const enqueueOne = (db: Db) =>
  db
    .insert(deliveries)
    .values({ postbackId: sql.placeholder('postbackId'), destinationId: sql.placeholder('destinationId'), state: 'pending', nextAttemptAt: sql.placeholder('now'), createdAt: sql.placeholder('now') })
    .onConflictDoNothing()
    .prepare();

/** Queues a copy of `postback` for every destination that wants it. */
export async function enqueueDeliveries(db: Db, postback: PostbackRow, now: Date, enabled: DestinationRow[]): Promise<number> {
  const targets = targetsOf(postback, enabled);
  for (const d of targets) await prepared(db, 'enqueueDelivery', enqueueOne).run({ postbackId: postback.id, destinationId: d.id, now });
  return targets.length;
}

/**
 * The same outbox rows as batch statements, for a postback whose id only the database knows yet
 * (`postbackId`, a subquery), written only while `guard` holds.
 */
export function enqueueStatements(db: Db, postback: Routed, postbackId: SQL, now: Date, enabled: DestinationRow[], guard: SQL): Array<BatchItem<'sqlite'>> {
  return targetsOf(postback, enabled).map((d) =>
    db
      .insert(deliveries)
      .select(guardedValues(deliveries, { postbackId, destinationId: d.id, state: 'pending', nextAttemptAt: now, createdAt: now }, guard))
      .onConflictDoNothing(),
  );
}

/**
 * Takes up to `limit` due deliveries of running destinations for `leaseMs`: until then no other
 * sender takes them. One UPDATE … RETURNING, so the claim is atomic on every driver.
 */
export async function claimDue(db: Db, now: Date, leaseMs: number, limit: number): Promise<DeliveryRow[]> {
  const running = db.select({ id: destinations.id }).from(destinations).where(and(eq(destinations.enabled, true), eq(destinations.paused, false)));
  const due = db
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(
      and(
        eq(deliveries.state, 'pending'),
        lte(deliveries.nextAttemptAt, now),
        or(isNull(deliveries.claimedUntil), lte(deliveries.claimedUntil, now)),
        inArray(deliveries.destinationId, running),
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
export async function replayDeliveries(db: Db, ids: number[], now: Date): Promise<number> {
  const updates = partsFor(ids, 1).map((part) =>
    db
      .update(deliveries)
      .set({ state: 'pending', attempts: 0, nextAttemptAt: now, claimedUntil: null, deliveredAt: null })
      .where(inArray(deliveries.id, part))
      .returning({ id: deliveries.id }),
  );
  return (await atomically(db, updates)).reduce((sum: number, updated) => sum + (updated as unknown[]).length, 0);
}

/**
 * Frees every claim. Only for a sender that knows it is the database's only one (the Node server
 * at start): the claims it finds were left by its predecessor, killed mid-send.
 */
export async function releaseClaims(db: Db): Promise<number> {
  const released = await db.update(deliveries).set({ claimedUntil: null }).where(isNotNull(deliveries.claimedUntil)).returning({ id: deliveries.id });
  return released.length;
}
