// Queue-buffered ingest (Workers, SKANPOST_INGEST_MODE=queue): the edge reads and verifies a postback
// as always, then hands the row it would store to a Cloudflare Queue instead of writing it; a
// consumer writes it later. A message carries the whole row, so the consumer never verifies again,
// and storing it is idempotent (its body and dedupe key are unique): a redelivered message changes
// nothing.
import type { NewPostbackRow } from '../db/schema.js';
import { sha256Hex } from '../hash.js';

/** A postback on its way to the consumer: the row as ingest built it, its time as epoch ms. */
export interface QueuedPostback {
  v: 1;
  row: Omit<NewPostbackRow, 'receivedAt'> & { receivedAt: number };
}

export const toMessage = (row: NewPostbackRow): QueuedPostback => ({ v: 1, row: { ...row, receivedAt: row.receivedAt.getTime() } });

export function fromMessage(message: unknown): NewPostbackRow {
  const m = message as QueuedPostback;
  if (m?.v !== 1 || typeof m.row?.receivedAt !== 'number' || typeof m.row.body !== 'string') throw new Error('not a queued postback (v1)');
  return { ...m.row, receivedAt: new Date(m.row.receivedAt) };
}

/**
 * Which of `count` producer queues takes the row: by its dedupe key (its body when it has none), so
 * the copies of one postback go through one queue.
 */
export function queueIndex(row: NewPostbackRow, count: number): number {
  const hex = sha256Hex(row.dedupeKey ?? row.bodySha256);
  return Number.parseInt(hex.slice(0, 8), 16) % count;
}
