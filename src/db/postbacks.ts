// Storing postbacks with Apple-style dedupe: the first verified copy of a key counts; later
// copies are duplicates or recorded conflicts; unverified bodies never claim a key.
import { and, asc, eq, getTableColumns, gt, inArray, sql } from 'drizzle-orm';
import { prepared } from './prepared.js';
import { sha256Hex } from '../hash.js';
import type { Inspection, PostbackFields } from '../postback/types.js';
import type { ReadPostback } from '../postback/read.js';
import type { InstallModel } from '../conversion/install-date.js';
import type { Db } from './db.js';
import { deriveColumns } from '../conversion/derive.js';
import { enqueueDeliveries, enqueueStatements } from './outbox.js';
import { loadSettings, type Settings } from './settings-cache.js';
import { applyContribution, contributionStatements } from './rollups.js';
import { atomically, markedPostbackId, markHolds, newToken, postbackMark, supportsBatch } from './batch.js';
import { postbacks, type NewPostbackRow, type PostbackRow } from './schema.js';

export type Outcome = 'stored' | 'duplicate' | 'conflict';

export interface SaveResult {
  /** The row a client should refer to: the new row, or the first copy it duplicates. */
  id: number;
  outcome: Outcome;
}

const claims = (inspection: Inspection) => inspection.signature === 'verified' || inspection.signature === 'development';

/** (protocol, environment, network, id compared case-insensitively, window 0 when absent). */
export function dedupeKey(inspection: Inspection): string | null {
  const { adNetworkId, transactionId, postbackSequenceIndex } = inspection.fields;
  if (!claims(inspection) || adNetworkId === null || transactionId === null) return null;
  return JSON.stringify([inspection.protocol, inspection.environment, adNetworkId, transactionId.toLowerCase(), postbackSequenceIndex ?? 0]);
}

type UnsignedValues = Partial<Pick<PostbackFields, 'conversionValue' | 'coarseConversionValue' | 'countryCode' | 'adInteractionType'>>;

/** The values a relay may alter without breaking the signature; copies must agree on them. */
function sameUnsignedValues(a: UnsignedValues, b: UnsignedValues): boolean {
  return (
    (a.conversionValue ?? null) === (b.conversionValue ?? null) &&
    (a.coarseConversionValue ?? null) === (b.coarseConversionValue ?? null) &&
    (a.countryCode ?? null) === (b.countryCode ?? null) &&
    (a.adInteractionType ?? null) === (b.adInteractionType ?? null)
  );
}

function verdictColumns(inspection: Inspection) {
  return {
    environment: inspection.environment,
    version: inspection.version,
    signature: inspection.signature,
    reasons: inspection.reasons,
    keyId: inspection.key,
    ...inspection.fields,
  };
}

export async function buildPostbackRow(postback: ReadPostback, inspection: Inspection, receivedAt: Date): Promise<NewPostbackRow> {
  return {
    receivedAt,
    protocol: inspection.protocol,
    outcome: 'stored',
    dedupeKey: dedupeKey(inspection),
    bodySha256: sha256Hex(postback.text),
    body: postback.text,
    ...verdictColumns(inspection),
  };
}

const COLUMNS = getTableColumns(postbacks);
const INSERT_COLUMNS = Object.keys(COLUMNS).filter((c) => c !== 'id') as Array<Exclude<keyof NewPostbackRow, 'id'>>;

// drizzle maps a placeholder's value through its column even when the value is null, and a null
// boolean comes out as 0 (false), a null JSON value as the text 'null'. So the placeholders here
// are raw and `driverValues` maps the row itself, keeping null null.
const insertPostback = (db: Db) =>
  db
    .insert(postbacks)
    .values(Object.fromEntries(INSERT_COLUMNS.map((c) => [c, sql`${sql.placeholder(c)}`])) as never)
    .onConflictDoNothing()
    .returning({ id: postbacks.id })
    .prepare();

const driverValues = (row: Unsaved) =>
  Object.fromEntries(INSERT_COLUMNS.map((c) => [c, row[c] === null || row[c] === undefined ? null : COLUMNS[c].mapToDriverValue(row[c])]));

const byBody = (db: Db) =>
  db.select({ id: postbacks.id, firstId: postbacks.firstId }).from(postbacks).where(eq(postbacks.bodySha256, sql.placeholder('sha'))).prepare();

const byDedupeKey = (db: Db) => db.select().from(postbacks).where(eq(postbacks.dedupeKey, sql.placeholder('key'))).prepare();

type Unsaved = Omit<PostbackRow, 'id'>;

/**
 * Inserts `row` unless its body or dedupe key is taken and, only if it went in, adds its
 * contribution and queues its copies, all in one atomic unit. Resolves with the row, or undefined.
 */
type InsertCounted = (row: Unsaved) => Promise<PostbackRow | undefined>;

// Node: inside the writer's transaction, so read the insert's outcome and act on it.
const insertCountedInTransaction =
  (db: Db, settings: Settings): InsertCounted =>
  async (row) => {
    // Only the id comes back: the rest is `row` itself, already in hand and already mapped.
    const created = await prepared(db, 'insertPostback', insertPostback).get(driverValues(row));
    if (!created) return undefined;
    const inserted = { ...row, id: created.id };
    await applyContribution(db, inserted, 1);
    await enqueueDeliveries(db, inserted, row.receivedAt, settings.destinations);
    return inserted;
  };

// D1: one batch whose later statements are guarded by a mark the insert's outcome sets.
const insertCountedInBatch =
  (db: Db, settings: Settings): InsertCounted =>
  async (row) => {
    const token = newToken();
    const mark = postbackMark(db, token, row.bodySha256);
    const guard = markHolds(token);
    const results = await atomically(db, [
      mark.open,
      db.insert(postbacks).values(row).onConflictDoNothing().returning({ id: postbacks.id }),
      mark.settle,
      ...contributionStatements(db, row, 1, guard),
      ...enqueueStatements(db, row, markedPostbackId(token), row.receivedAt, settings.destinations, guard),
      mark.close,
    ]);
    const created = (results[1] as Array<{ id: number }>)[0];
    return created && { ...row, id: created.id };
  };

/**
 * Stores one postback with its derived columns and aggregate increments. Runs inside one Writer
 * unit: a transaction on Node; on D1, where units cannot read their own writes, batches whose
 * outcome is decided inside the database, so a racing copy can never be counted twice.
 */
export async function savePostback(db: Db, row: NewPostbackRow, installModel: InstallModel): Promise<SaveResult> {
  const settings = await loadSettings(db);
  const full = { ...row, ...deriveColumns(settings, row, installModel) };
  const complete = Object.fromEntries(INSERT_COLUMNS.map((c) => [c, full[c] ?? null])) as unknown as Unsaved;
  const insertCounted = (supportsBatch(db) ? insertCountedInBatch : insertCountedInTransaction)(db, settings);
  const inserted = await insertCounted(complete);
  if (inserted) return { id: inserted.id, outcome: 'stored' };

  // Byte-identical to a kept body: a device or relay retry, whatever its verdict.
  const same = await prepared(db, 'byBody', byBody).get({ sha: row.bodySha256 });
  if (same) return { id: same.firstId ?? same.id, outcome: 'duplicate' };

  // Otherwise only the dedupe key can have collided: a verified copy of a postback already counted.
  const first = row.dedupeKey ? await prepared(db, 'byDedupeKey', byDedupeKey).get({ key: row.dedupeKey }) : undefined;
  if (!first) throw new Error('postback insert ignored without a matching body or dedupe key');
  if (sameUnsignedValues(first, row)) return { id: first.id, outcome: 'duplicate' };
  // Kept and counted as a conflict. Only a copy of this very body racing in can take its place.
  const conflict = await insertCounted({ ...complete, dedupeKey: null, outcome: 'conflict', firstId: first.id });
  return { id: first.id, outcome: conflict ? 'conflict' : 'duplicate' };
}

/** Rows whose verdict a new key or recipe may change, in id order, for chunked `reverify`. */
export async function listUnsettled(db: Db, afterId: number, limit: number): Promise<PostbackRow[]> {
  return db
    .select()
    .from(postbacks)
    .where(and(gt(postbacks.id, afterId), inArray(postbacks.signature, ['invalid', 'unverifiable'])))
    .orderBy(asc(postbacks.id))
    .limit(limit);
}

/**
 * Records a new verdict for a stored row. A row that now verifies claims its key if nobody has,
 * else becomes a duplicate or conflict of the row that has, exactly as if it had arrived now.
 */
export async function resettlePostback(db: Db, row: PostbackRow, inspection: Inspection, installModel: InstallModel): Promise<void> {
  const columns = verdictColumns(inspection);
  const key = dedupeKey(inspection);
  let placement: Partial<NewPostbackRow> = {};
  if (key) {
    const [first] = await db.select().from(postbacks).where(eq(postbacks.dedupeKey, key));
    placement = !first
      ? { dedupeKey: key, outcome: 'stored', firstId: null }
      : { outcome: sameUnsignedValues(first, inspection.fields) ? 'duplicate' : 'conflict', firstId: first.id };
  }
  const next = { ...row, ...columns, ...placement };
  const settings = await loadSettings(db);
  const derived = deriveColumns(settings, next, installModel);
  await applyContribution(db, row, -1);
  const [updated] = await db.update(postbacks).set({ ...columns, ...placement, ...derived }).where(eq(postbacks.id, row.id)).returning();
  await applyContribution(db, updated!, 1);
  // Now genuine and counted: its copies go out as if it had just arrived.
  if (row.outcome !== 'stored' || row.signature !== updated!.signature) await enqueueDeliveries(db, updated!, new Date(), settings.destinations);
}
