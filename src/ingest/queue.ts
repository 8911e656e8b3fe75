// Queue-buffered ingest (Workers, SKANPOST_INGEST_MODE=queue): the edge reads and verifies a postback
// as always, then hands what it would store to a Cloudflare Queue instead of writing it; a consumer
// writes it later (ingest/consume.ts). A message carries everything the write needs, so the consumer
// never verifies or parses again, and storing it is idempotent: a redelivered message changes nothing.
// Apple's postbacks, MMP postbacks and clicks travel this way; times travel as epoch ms.
import type { NewClick } from '../db/mmp.js';
import type { NewPostbackRow } from '../db/schema.js';
import { sha256Hex } from '../hash.js';
import type { MmpFields } from '../mmp/fields.js';
import type { ReadMmpPostback } from '../mmp/intake.js';

/** `T` with its dates as epoch milliseconds: what JSON carries without loss. */
type Timed<T> = { [K in keyof T]: T[K] extends Date ? number : T[K] extends Date | null ? number | null : T[K] };

/** An Apple postback: the row as ingest built it. The first messages had no `kind`; they still read. */
interface QueuedPostback {
  v: 1;
  kind?: 'postback';
  row: Timed<NewPostbackRow>;
}

/** An MMP postback whose request passed the partner's token, allowlist and field checks. */
interface QueuedMmpPostback {
  v: 1;
  kind: 'mmp';
  partnerId: number;
  raw: Record<string, string>;
  fields: Timed<MmpFields>;
  receivedAt: number;
}

/** A click already answered with its redirect. */
interface QueuedClick {
  v: 1;
  kind: 'click';
  click: Timed<NewClick>;
}

export type QueuedMessage = QueuedPostback | QueuedMmpPostback | QueuedClick;

/** A message as the consumer writes it. */
export type Queued = { kind: 'postback'; row: NewPostbackRow } | { kind: 'mmp'; partnerId: number; read: ReadMmpPostback; receivedAt: Date } | { kind: 'click'; click: NewClick };

const timed = <T extends object>(value: T): Timed<T> => Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v instanceof Date ? v.getTime() : v])) as Timed<T>;

/** The dates of `value` named by `keys` back as Dates; each must be a number (or null where `nullable`). */
function dated<T>(value: Timed<T>, keys: ReadonlyArray<keyof T>, nullable: boolean): T {
  const out = { ...value } as Record<keyof T, unknown>;
  for (const key of keys) {
    const ms = out[key];
    if (ms === null && nullable) continue;
    if (typeof ms !== 'number') throw new Error(`not a queued message: ${String(key)} is not a time`);
    out[key] = new Date(ms);
  }
  return out as T;
}

export function toMessage(queued: Queued): QueuedMessage {
  switch (queued.kind) {
    case 'postback':
      return { v: 1, kind: 'postback', row: timed(queued.row) };
    case 'mmp':
      return { v: 1, kind: 'mmp', partnerId: queued.partnerId, raw: queued.read.raw, fields: timed(queued.read.fields), receivedAt: queued.receivedAt.getTime() };
    case 'click':
      return { v: 1, kind: 'click', click: timed(queued.click) };
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads a message body; throws on anything this version did not send (it then ends as a dead letter). */
export function fromMessage(message: unknown): Queued {
  if (!isRecord(message) || message.v !== 1) throw new Error('not a queued message (v1)');
  const kind = message.kind ?? 'postback';
  const { row, partnerId, raw, fields, receivedAt, click } = message;
  if (kind === 'postback' && isRecord(row) && typeof row.body === 'string') return { kind, row: dated(row as Timed<NewPostbackRow>, ['receivedAt'], false) };
  if (kind === 'mmp' && typeof partnerId === 'number' && isRecord(raw) && isRecord(fields) && typeof receivedAt === 'number')
    return {
      kind,
      partnerId,
      read: { raw: raw as Record<string, string>, fields: dated(fields as Timed<MmpFields>, ['eventTime', 'installTime', 'clickTime'], true) },
      receivedAt: new Date(receivedAt),
    };
  if (kind === 'click' && isRecord(click) && typeof click.clickId === 'string') return { kind, click: dated(click as Timed<NewClick>, ['clickedAt', 'expiresAt'], false) };
  throw new Error(`not a queued message (v1, kind ${String(kind)})`);
}

/**
 * Which of `count` producer queues takes a message: by what makes it one (an Apple postback's dedupe
 * key, else its body; an MMP postback's parameters; a click's ID), so copies of one go through one queue.
 */
export function queueIndex(queued: Queued, count: number): number {
  const identity =
    queued.kind === 'postback'
      ? (queued.row.dedupeKey ?? queued.row.bodySha256)
      : queued.kind === 'mmp'
        ? `${queued.partnerId}:${JSON.stringify(queued.read.raw)}`
        : queued.click.clickId;
  return Number.parseInt(sha256Hex(identity).slice(0, 8), 16) % count;
}
