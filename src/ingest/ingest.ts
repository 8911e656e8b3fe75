// One postback from bytes to a stored row: read, verify, then one atomic write.
import { buildPostbackRow, savePostback, type Outcome } from '../db/postbacks.js';
import type { Writer } from '../db/db.js';
import type { InstallModel } from '../conversion/install-date.js';
import { inspectPostback, type Verification } from '../postback/inspect.js';
import { readPostback } from '../postback/read.js';
import type { Problem, SignatureVerdict } from '../postback/types.js';

export interface IngestDeps {
  verification: Verification;
  writer: Writer;
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
  const saved = await deps.writer.run((db) => savePostback(db, row, deps.installModel));
  return { ok: true, receipt: { ...saved, signature: inspection.signature, reasons: inspection.reasons } };
}
