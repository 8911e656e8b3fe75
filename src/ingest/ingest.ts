// One postback from bytes to a stored row: read, verify, then one atomic write. The two halves
// are separate so that bulk paths can verify many at once yet store them in their own order.

import type { InstallModel } from '../conversion/install-date.js';
import type { NewPostbackRow } from '../db/schema.js';
import { AppHeldError } from '../db/shards.js';
import type { Writer } from '../db/store.js';
import { inspectPostback, type Verification } from '../postback/inspect.js';
import { readPostback } from '../postback/read.js';
import type { Inspection, Problem, SignatureVerdict } from '../postback/types.js';
import type { Queued } from './queue.js';
import { buildPostbackRow } from './row.js';
import { type Outcome, type SaveResult, savePostback } from './save.js';

export interface IngestDeps {
  verification: Verification;
  writer: Writer;
  /** Stores a built row; by default `savePostback` through `writer` (the Node server uses a thread). */
  save?: (row: NewPostbackRow) => Promise<SaveResult>;
  /**
   * Queue mode (Workers): hands what would be stored (an Apple or MMP postback) to a queue instead;
   * resolves once the queue has it. The answer then says `queued`, with no id yet.
   */
  enqueue?: (queued: Queued) => Promise<void>;
  /**
   * Sharded Workers: keeps a write whose app a move holds (`AppHeldError`) until the move's switch
   * writes it. The answer then says `queued`, as in queue mode.
   */
  park?: (queued: Queued, appId: number) => Promise<void>;
  now: () => Date;
  installModel: InstallModel;
}

export interface Receipt {
  /** Null when queued: the row is written by the consumer. */
  id: number | null;
  outcome: Outcome | 'queued';
  signature: SignatureVerdict;
  reasons: string[];
}

/** A postback read and verified, not yet stored. */
export type Prepared = { ok: true; row: NewPostbackRow; inspection: Inspection } | { ok: false; problems: Problem[] };

export async function preparePostback(bytes: Uint8Array, verification: Verification, receivedAt: Date, channel?: string): Promise<Prepared> {
  const read = readPostback(bytes);
  if (!read.ok) return read;
  const inspection = await inspectPostback(read.postback, verification);
  return { ok: true, row: buildPostbackRow(read.postback, inspection, receivedAt, channel, verification.sha256Hex), inspection };
}

/**
 * Stores a prepared postback. The write is queued before this returns (the writer and the
 * writer thread take units in the order they are handed over), so callers that call it in a
 * given order have their postbacks claim dedupe keys in that order.
 */
export function storePrepared(prepared: Extract<Prepared, { ok: true }>, deps: IngestDeps): Promise<Receipt> {
  const { row, inspection } = prepared;
  const saving = deps.save ? deps.save(row) : deps.writer.run((tx) => savePostback(tx, row, deps.installModel));
  return saving.then((saved) => ({ id: saved.id, outcome: saved.outcome, signature: inspection.signature, reasons: inspection.reasons }));
}

/** A network relaying an advertiser's copies: its key's name, and the one network it may relay for. */
export interface Relay {
  name: string;
  adNetworkId: string | null;
}

export type IngestResult = { ok: true; receipt: Receipt } | { ok: false; problems: Problem[] } | { ok: false; relayMismatch: string | null };

/** The answer for a postback kept to be written later (queued at the edge, or held while its app moves). */
const queued = (inspection: Inspection) => ({ ok: true, receipt: { id: null, outcome: 'queued', signature: inspection.signature, reasons: inspection.reasons } }) as const;

export async function ingestPostback(bytes: Uint8Array, deps: IngestDeps, relay?: Relay): Promise<IngestResult> {
  const prepared = await preparePostback(bytes, deps.verification, deps.now(), relay ? `relay:${relay.name}` : undefined);
  if (!prepared.ok) return prepared;
  // Checked before anything is stored: a key bound to one network relays only its postbacks.
  if (relay?.adNetworkId && prepared.row.adNetworkId?.toLowerCase() !== relay.adNetworkId.toLowerCase()) {
    return { ok: false, relayMismatch: prepared.row.adNetworkId ?? null };
  }
  if (deps.enqueue) {
    await deps.enqueue({ kind: 'postback', row: prepared.row });
    return queued(prepared.inspection);
  }
  try {
    return { ok: true, receipt: await storePrepared(prepared, deps) };
  } catch (error) {
    if (!(error instanceof AppHeldError && deps.park)) throw error;
    await deps.park({ kind: 'postback', row: prepared.row }, error.appId);
    return queued(prepared.inspection);
  }
}
