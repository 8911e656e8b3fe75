// `skanpost reverify`: re-runs verification on invalid and unverifiable rows after a key or
// recipe update, in chunks, so a large table never holds one long write lock.
import type { InstallModel } from '../conversion/install-date.js';
import type { Db } from '../db/db.js';
import { listUnsettled } from '../db/postbacks.js';
import type { PostbackRow } from '../db/schema.js';
import type { Writer } from '../db/store.js';
import { resettlePostback } from '../ingest/save.js';
import { inspectPostback, type Verification } from '../postback/inspect.js';
import { readPostback } from '../postback/read.js';
import type { Inspection, SignatureVerdict } from '../postback/types.js';

export interface ReverifySummary {
  checked: number;
  /** The verdicts the checked rows had: what was looked at. */
  checked_by_verdict: Partial<Record<SignatureVerdict, number>>;
  changed: number;
  unchanged: number;
  /** New verdicts of the rows that changed. */
  now: Partial<Record<SignatureVerdict, number>>;
}

const tally = (counts: Partial<Record<SignatureVerdict, number>>, verdict: SignatureVerdict) => {
  counts[verdict] = (counts[verdict] ?? 0) + 1;
};

const encoder = new TextEncoder();
const BOM_REASON = 'body: leading byte-order mark dropped';

async function reinspect(row: PostbackRow, verification: Verification): Promise<Inspection | undefined> {
  const read = readPostback(encoder.encode(row.body));
  if (!read.ok) return undefined; // kept bodies always read; a row edited by hand is left alone
  const inspection = await inspectPostback(read.postback, verification);
  if (row.reasons.includes(BOM_REASON)) inspection.reasons.unshift(BOM_REASON);
  return inspection;
}

export async function reverify(db: Db, writer: Writer, verification: Verification, installModel: InstallModel, chunk = 200): Promise<ReverifySummary> {
  const summary: ReverifySummary = { checked: 0, checked_by_verdict: {}, changed: 0, unchanged: 0, now: {} };
  for (let afterId = 0; ; ) {
    const rows = await listUnsettled(db, afterId, chunk);
    if (rows.length === 0) return summary;
    afterId = rows[rows.length - 1]!.id;
    summary.checked += rows.length;
    const changes: Array<[PostbackRow, Inspection]> = [];
    for (const row of rows) {
      tally(summary.checked_by_verdict, row.signature);
      const inspection = await reinspect(row, verification);
      if (inspection && (inspection.signature !== row.signature || inspection.key !== row.keyId)) changes.push([row, inspection]);
    }
    await writer.run(async (tx) => {
      for (const [row, inspection] of changes) await resettlePostback(tx, row, inspection, installModel, new Date());
    });
    for (const [, inspection] of changes) tally(summary.now, inspection.signature);
    summary.changed += changes.length;
    summary.unchanged += rows.length - changes.length;
  }
}
