// One postback from bytes to a stored row: read, verify, then one atomic write.
import { buildPostbackRow, savePostback, type Outcome, type SaveResult } from '../db/postbacks.js';
import type { NewPostbackRow } from '../db/schema.js';
import type { Writer } from '../db/db.js';
import type { InstallModel } from '../conversion/install-date.js';
import { inspectPostback, type Verification } from '../postback/inspect.js';
import { readPostback } from '../postback/read.js';
import type { Problem, SignatureVerdict } from '../postback/types.js';

export interface IngestDeps {
  verification: Verification;
  writer: Writer;
  /** Stores a built row; by default `savePostback` through `writer` (the Node server uses a thread). */
  save?: (row: NewPostbackRow) => Promise<SaveResult>;
  now: () => Date;
  installModel: InstallModel;
}

export interface Receipt {
  id: number;
  outcome: Outcome;
  signature: SignatureVerdict;
  reasons: string[];
}

export type IngestResult = { ok: true; receipt: Receipt } | { ok: false; problems: Problem[] };

export async function ingestPostback(bytes: Uint8Array, deps: IngestDeps, receivedAt = deps.now()): Promise<IngestResult> {
  const read = readPostback(bytes);
  if (!read.ok) return read;
  const inspection = await inspectPostback(read.postback, deps.verification);
  const row = await buildPostbackRow(read.postback, inspection, receivedAt);
  const saved = await (deps.save ? deps.save(row) : deps.writer.run((db) => savePostback(db, row, deps.installModel)));
  return { ok: true, receipt: { ...saved, signature: inspection.signature, reasons: inspection.reasons } };
}
