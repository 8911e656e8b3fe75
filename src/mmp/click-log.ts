// The click log's writes, off the redirect's path. A click is answered first and written after:
// on Node, clicks gather for a moment and go in one unit of the group-commit writer (thousands of
// clicks, one commit); on Workers each request writes its own after the answer (`waitUntil`).
// A write that fails keeps its clicks for the next attempt, so a busy or briefly locked database
// loses none; only a process that dies holding them does, and that is counted at shutdown.
import { type ClickLink, clickStatements, type NewClick } from '../db/mmp.js';
import type { Settings } from '../db/settings-snapshot.js';
import type { Writer } from '../db/store.js';
import { linkCampaign } from './links.js';

/** Writes clicks and their counts in one unit (a click sent twice is kept once). */
export const writeClicks = (writer: Writer, rows: readonly NewClick[], now: Date) =>
  writer.run(async (tx) => tx.batch(clickStatements(tx.db, rows, now, clickLinks(rows, await tx.settings()))));

/** The links of `rows`, as their counts need them, from the settings in force. */
export function clickLinks(rows: readonly NewClick[], settings: Settings): ClickLink[] {
  const out: ClickLink[] = [];
  for (const id of new Set(rows.map((r) => r.linkId))) {
    const link = settings.links.get(id);
    if (link) out.push({ ...link, campaign: linkCampaign(link, settings) ?? '' });
  }
  return out;
}

export interface ClickLogOptions {
  /** How long a click may wait for others before its write starts (ms). */
  delayMs: number;
  /** A write starts at once when this many are waiting. */
  maxBatch: number;
  /** Clicks held while writes fail; past it the oldest are dropped (and counted). */
  maxHeld: number;
  onError: (error: unknown, counts: { held: number; dropped: number }) => void;
}

export class ClickLog {
  private held: NewClick[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> | undefined;
  /** Clicks dropped because writes kept failing and the hold was full. */
  dropped = 0;

  /** `write` stores a batch in one unit (by default `writeClicks` on a writer; Node's server hands it to its writer thread). */
  constructor(
    private readonly write: (rows: NewClick[]) => Promise<unknown>,
    private readonly options: ClickLogOptions = { delayMs: 100, maxBatch: 2000, maxHeld: 200_000, onError: () => {} },
  ) {}

  add(row: NewClick): void {
    this.held.push(row);
    if (this.held.length > this.options.maxHeld) {
      this.held.shift();
      this.dropped++;
    }
    if (this.held.length >= this.options.maxBatch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.delayMs);
  }

  /** Writes what is held; resolves when every click added before the call is written or back in the hold. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    if (this.held.length === 0) return;
    const rows = this.held.splice(0, this.options.maxBatch);
    this.writing = this.write(rows).then(
      () => undefined,
      (error: unknown) => {
        // Back to the front, in order; the next click (or the retry below) writes them.
        this.held.unshift(...rows);
        this.options.onError(error, { held: this.held.length, dropped: this.dropped });
        this.timer ??= setTimeout(() => void this.flush(), Math.max(1000, this.options.delayMs));
      },
    );
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
    }
    if (this.held.length >= this.options.maxBatch) await this.flush();
  }

  /** Clicks waiting for their write. */
  get pending(): number {
    return this.held.length;
  }

  /** Writes everything held, trying a few times; resolves with how many could not be written. */
  async close(attempts = 3): Promise<number> {
    for (let i = 0; i < attempts && this.held.length > 0; i++) await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.held.length;
  }
}
