// Keeping one postback, inside one write unit: its derived columns from the settings in force,
// what it adds to the aggregates, the partners that get a copy, and Apple's dedupe outcome. The
// driver makes the write atomic (db/store.ts); everything decided here is the same on both.

import { and, eq, getTableColumns, notExists } from 'drizzle-orm';
import { deriveColumns } from '../conversion/derive.js';
import type { InstallModel } from '../conversion/install-date.js';
import { guardedValues } from '../db/guarded.js';
import { findByBody, findByDedupeKey, updatePostback } from '../db/postbacks.js';
import { type NewPostbackRow, type PostbackRow, postbackCopies, postbacks } from '../db/schema.js';
import type { Unit, UnsavedPostback } from '../db/store.js';
import { destinationsFor } from '../forward/route.js';
import { dedupeKey, sameUnsignedValues } from '../postback/dedupe.js';
import type { Inspection } from '../postback/types.js';
import { countsOf } from '../rollup/contribution.js';
import { DIRECT, verdictColumns } from './row.js';

export type Outcome = 'stored' | 'duplicate' | 'conflict';

export interface SaveResult {
  /** The row a client should refer to: the new row, or the first copy it duplicates. */
  id: number;
  outcome: Outcome;
}

// Every column in the table's order, null where absent: rows keep one shape, as the insert expects.
const COLUMNS = Object.keys(getTableColumns(postbacks)).filter((c) => c !== 'id') as Array<keyof UnsavedPostback>;
const NULLS = Object.fromEntries(COLUMNS.map((c) => [c, null]));

// Object.assign from a template of every column, not a spread nor a loop adding keys: in Node 20's
// V8 either makes this copy 10-20x slower (~20 µs per postback; BENCHMARKS.md).
function complete(row: NewPostbackRow, derived: Partial<NewPostbackRow>): UnsavedPostback {
  const out = Object.assign({}, NULLS, row, derived) as Record<string, unknown>;
  for (const c of COLUMNS) if (out[c] === undefined) out[c] = null;
  out.channel ??= DIRECT;
  return out as UnsavedPostback;
}

/**
 * Stores `row` with its derived columns, counts and outbox rows; or, when its body or dedupe key
 * is taken, says which row it duplicates (and keeps a conflicting copy beside the first).
 */
export async function savePostback(tx: Unit, row: NewPostbackRow, installModel: InstallModel): Promise<SaveResult> {
  return (await savePostbacks(tx, [row], installModel))[0]!;
}

/**
 * `savePostback` for many rows in one unit, as a queue consumer's batch: every insert in one write
 * (one round trip on D1), then the rows whose body or key was taken, in order. Saving a row again
 * (a message delivered twice, in one batch or two) is a duplicate that changes nothing.
 */
export async function savePostbacks(tx: Unit, rows: readonly NewPostbackRow[], installModel: InstallModel): Promise<SaveResult[]> {
  const settings = await tx.settings();
  const fulls = rows.map((row) => complete(row, deriveColumns(settings, row, installModel)));
  // A body met earlier in the batch is not inserted twice: its guards would see the first one's row.
  const firstOfBody = new Map<string, number>();
  for (const [i, full] of fulls.entries()) if (!firstOfBody.has(full.bodySha256)) firstOfBody.set(full.bodySha256, i);
  const fresh = [...firstOfBody.values()];
  const ids = await tx.insertCounted(fresh.map((i) => ({ row: fulls[i]!, counts: countsOf(fulls[i]!, 1), destinationIds: destinationsFor(fulls[i]!, settings.destinations) })));
  const results: Array<SaveResult | undefined> = rows.map(() => undefined);
  for (const [k, i] of fresh.entries()) if (ids[k] !== undefined) results[i] = { id: ids[k], outcome: 'stored' };
  for (const [i, row] of rows.entries()) results[i] ??= await settleTaken(tx, row, fulls[i]!);
  return results as SaveResult[];
}

/** A row whose insert was ignored: a copy of a kept body, a duplicate of its dedupe key, or a conflict. */
async function settleTaken(tx: Unit, row: NewPostbackRow, full: UnsavedPostback): Promise<SaveResult> {
  // Byte-identical to a kept body: a device or relay retry, whatever its verdict; or the very same
  // arrival again (a queue's redelivery), which is no copy at all.
  const same = await findByBody(tx.db, row.bodySha256);
  if (same) {
    const arrival = same.receivedAt.getTime() === row.receivedAt.getTime() && same.channel === (row.channel ?? DIRECT);
    if (!arrival) await recordCopy(tx, same.firstId ?? same.id, row);
    return { id: same.firstId ?? same.id, outcome: 'duplicate' };
  }

  // Otherwise only the dedupe key can have collided: a verified copy of a postback already counted.
  const first = row.dedupeKey ? await findByDedupeKey(tx.db, row.dedupeKey) : undefined;
  if (!first) throw new Error('postback insert ignored without a matching body or dedupe key');
  if (sameUnsignedValues(first, row)) {
    await recordCopy(tx, first.id, row);
    return { id: first.id, outcome: 'duplicate' };
  }
  // Kept and counted as a conflict. Only a copy of this very body racing in can take its place.
  const conflict = { ...full, dedupeKey: null, outcome: 'conflict' as const, firstId: first.id };
  const [conflictId] = await tx.insertCounted([{ row: conflict, counts: countsOf(conflict, 1), destinationIds: [] }]);
  return { id: first.id, outcome: conflictId === undefined ? 'duplicate' : 'conflict' };
}

/**
 * A later copy with the first one's values: its channel and arrival, for copy reconciliation; kept
 * once per arrival, so a queue's redelivery of the copy adds nothing.
 */
const recordCopy = (tx: Unit, postbackId: number, row: NewPostbackRow) => {
  const copy = { postbackId, channel: row.channel ?? DIRECT, receivedAt: row.receivedAt };
  const kept = tx.db
    .select({ id: postbackCopies.id })
    .from(postbackCopies)
    .where(and(eq(postbackCopies.postbackId, postbackId), eq(postbackCopies.channel, copy.channel), eq(postbackCopies.receivedAt, copy.receivedAt)));
  return tx.batch([tx.db.insert(postbackCopies).select(guardedValues(postbackCopies, copy, notExists(kept)))]);
};

/**
 * Records a new verdict for a stored row (`reverify`). A row that now verifies claims its key if
 * nobody has, else becomes a duplicate or conflict of the row that has, as if it had arrived now.
 */
export async function resettlePostback(tx: Unit, row: PostbackRow, inspection: Inspection, installModel: InstallModel, now: Date): Promise<void> {
  const columns = verdictColumns(inspection);
  const key = dedupeKey(inspection);
  let placement: Partial<NewPostbackRow> = {};
  if (key) {
    const first = await findByDedupeKey(tx.db, key);
    placement = !first
      ? { dedupeKey: key, outcome: 'stored', firstId: null }
      : { outcome: sameUnsignedValues(first, inspection.fields) ? 'duplicate' : 'conflict', firstId: first.id };
  }
  const settings = await tx.settings();
  const derived = deriveColumns(settings, { ...row, ...columns, ...placement }, installModel);
  const before = countsOf(row, -1);
  if (before) await tx.addCounts(before);
  const updated = (await updatePostback(tx.db, row.id, { ...columns, ...placement, ...derived }))!;
  const after = countsOf(updated, 1);
  if (after) await tx.addCounts(after);
  // Now genuine and counted: its copies go out as if it had just arrived.
  if (row.outcome !== 'stored' || row.signature !== updated.signature) await tx.enqueue(updated.id, destinationsFor(updated, settings.destinations), now);
}
