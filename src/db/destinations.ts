// Managing destinations: save with checks, pause and resume, backfill, figures per destination.
import { and, asc, desc, eq, getTableColumns, gte, isNotNull, sql } from 'drizzle-orm';
import { DestinationInput, maskUrlPassword } from '../forward/destination.js';
import { wants } from '../forward/route.js';
import { unknownMacros } from '../forward/template.js';
import { atomically, partsFor } from './batch.js';
import type { Db } from './db.js';
import { deliveries, destinations, postbacks, type DestinationRow } from './schema.js';
import { bumpSettings } from './settings-cache.js';

export class DestinationError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/** What a client sees of a destination: the secret only as whether one is set. */
export function publicDestination(d: DestinationRow) {
  return {
    id: d.id,
    name: d.name,
    url: maskUrlPassword(d.url),
    method: d.method,
    format: d.format,
    body_template: d.bodyTemplate,
    enriched_keys: d.enrichedKeys,
    filters: d.filters,
    headers: d.headers,
    has_secret: d.secret !== null,
    retry: d.retry,
    timeout_ms: d.timeoutMs,
    enabled: d.enabled,
    paused: d.paused,
    last_error: d.lastError,
    created_at: d.createdAt.toISOString(),
    updated_at: d.updatedAt.toISOString(),
  };
}

function check(input: DestinationInput): void {
  for (const [field, template] of [['url', input.url], ['body_template', input.body_template ?? '']] as const) {
    const unknown = unknownMacros(template);
    if (unknown.length) throw new DestinationError(field, `unknown macro${unknown.length > 1 ? 's' : ''} ${unknown.map((m) => `{${m}}`).join(', ')}`);
  }
  if (input.format !== 'template' && input.body_template) throw new DestinationError('body_template', 'a body template needs format "template"');
  if (input.method === 'GET' && (input.format !== 'template' || input.body_template)) throw new DestinationError('method', 'GET sends no body: use it with format "template" and no body_template');
}

const columns = (input: DestinationInput) => ({
  name: input.name,
  url: input.url,
  method: input.method,
  format: input.format,
  bodyTemplate: input.body_template ?? null,
  enrichedKeys: input.enriched_keys,
  filters: input.filters,
  headers: input.headers,
  secret: input.secret ?? null,
  retry: input.retry,
  timeoutMs: input.timeout_ms,
  enabled: input.enabled,
});

export async function createDestination(db: Db, input: DestinationInput, now: Date): Promise<DestinationRow> {
  check(input);
  const [inserted] = await atomically(db, [db.insert(destinations).values({ ...columns(input), createdAt: now, updatedAt: now }).returning(), bumpSettings(db)]);
  return (inserted as DestinationRow[])[0]!;
}

/** Applies a partial change; a secret left out is kept, `null` removes it. */
export async function updateDestination(db: Db, id: number, patch: Record<string, unknown>, now: Date): Promise<DestinationRow | undefined> {
  const [current] = await db.select().from(destinations).where(eq(destinations.id, id));
  if (!current) return undefined;
  const saved: Record<string, unknown> = {
    name: current.name,
    url: current.url,
    method: current.method,
    format: current.format,
    body_template: current.bodyTemplate,
    enriched_keys: current.enrichedKeys,
    filters: current.filters,
    headers: current.headers,
    secret: current.secret,
    retry: current.retry,
    timeout_ms: current.timeoutMs,
    enabled: current.enabled,
  };
  const merged = DestinationInput.safeParse({ ...saved, ...patch });
  if (!merged.success) {
    const issue = merged.error.issues[0]!;
    throw new DestinationError(issue.path.join('.') || '(body)', issue.message);
  }
  check(merged.data);
  const [updated] = await atomically(db, [db.update(destinations).set({ ...columns(merged.data), lastError: null, updatedAt: now }).where(eq(destinations.id, id)).returning(), bumpSettings(db)]);
  return (updated as DestinationRow[])[0];
}

export const listDestinations = (db: Db) => db.select().from(destinations).orderBy(asc(destinations.id));

export async function getDestination(db: Db, id: number): Promise<DestinationRow | undefined> {
  const [row] = await db.select().from(destinations).where(eq(destinations.id, id));
  return row;
}

/** Removes a destination and its outbox rows: nothing more is sent to it. */
export async function deleteDestination(db: Db, id: number): Promise<boolean> {
  if (!(await getDestination(db, id))) return false;
  await atomically(db, [db.delete(deliveries).where(eq(deliveries.destinationId, id)), db.delete(destinations).where(eq(destinations.id, id)), bumpSettings(db)]);
  return true;
}

export async function setPaused(db: Db, id: number, paused: boolean, now: Date): Promise<DestinationRow | undefined> {
  const [row] = await db.update(destinations).set({ paused, updatedAt: now }).where(eq(destinations.id, id)).returning();
  return row;
}

/**
 * Queues copies of stored postbacks received since `since` that the destination wants, in id
 * chunks; postbacks it already has a delivery for are skipped.
 */
export async function backfill(db: Db, id: number, since: Date, now: Date, afterId = 0, chunk = 500): Promise<{ queued: number; lastId: number; done: boolean }> {
  const destination = await getDestination(db, id);
  if (!destination) return { queued: 0, lastId: afterId, done: true };
  const rows = await db
    .select()
    .from(postbacks)
    .where(and(gte(postbacks.receivedAt, since), sql`${postbacks.id} > ${afterId}`, eq(postbacks.outcome, 'stored')))
    .orderBy(asc(postbacks.id))
    .limit(chunk);
  const wanted = rows.filter((p) => wants(destination, p)).map((p) => ({ postbackId: p.id, destinationId: id, state: 'pending' as const, nextAttemptAt: now, createdAt: now }));
  const inserts = partsFor(wanted, Object.keys(getTableColumns(deliveries)).length).map((part) =>
    db.insert(deliveries).values(part).onConflictDoNothing().returning({ id: deliveries.id }),
  );
  const queued = (await atomically(db, inserts)).reduce((sum: number, inserted) => sum + (inserted as unknown[]).length, 0);
  return { queued, lastId: rows.at(-1)?.id ?? afterId, done: rows.length < chunk };
}

const percentile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : null);

export async function destinationStats(db: Db, id: number) {
  const counts = await db
    .select({ state: deliveries.state, retrying: sql<number>`sum(${deliveries.attempts} > 0)`, n: sql<number>`count(*)` })
    .from(deliveries)
    .where(eq(deliveries.destinationId, id))
    .groupBy(deliveries.state);
  const by = (state: string) => counts.find((c) => c.state === state);
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
  // Latency of the most recent 1,000 successful sends.
  const latencies = (
    await db
      .select({ ms: deliveries.lastLatencyMs })
      .from(deliveries)
      .where(and(eq(deliveries.destinationId, id), eq(deliveries.state, 'delivered'), isNotNull(deliveries.lastLatencyMs)))
      .orderBy(desc(deliveries.deliveredAt))
      .limit(1000)
  )
    .map((r) => r.ms!)
    .sort((a, b) => a - b);
  const pending = Number(by('pending')?.n ?? 0);
  const retrying = Number(by('pending')?.retrying ?? 0);
  return {
    delivered: Number(by('delivered')?.n ?? 0),
    pending: pending - retrying,
    retrying,
    dead: Number(by('dead')?.n ?? 0),
    last_success_at: lastSuccess?.at?.toISOString() ?? null,
    last_error: lastError ? { delivery_id: lastError.id, status: lastError.status, error: lastError.error } : null,
    latency_ms: { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99) },
  };
}

export const deliveryIdsOf = async (db: Db, filter: { destinationId?: number; state?: 'pending' | 'delivered' | 'dead' }, limit = 10_000) =>
  (
    await db
      .select({ id: deliveries.id })
      .from(deliveries)
      .where(and(filter.destinationId !== undefined ? eq(deliveries.destinationId, filter.destinationId) : undefined, filter.state ? eq(deliveries.state, filter.state) : undefined))
      .orderBy(asc(deliveries.id))
      .limit(limit)
  ).map((r) => r.id);

