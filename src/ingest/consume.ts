// Queue mode's consumer: a batch of queued messages written as ingest would have written them.
// Apple's postbacks of a batch go in one write unit (one D1 round trip for all of their inserts),
// the batch's clicks in another, and each MMP postback in its own (its click checks read first).
// Every write is idempotent, so the queue may deliver a message again, or out of order, and nothing
// is counted twice; a write that fails leaves its messages to be retried.
import type { InstallModel } from '../conversion/install-date.js';
import type { Db } from '../db/db.js';
import { getPartner } from '../db/mmp.js';
import type { Writer } from '../db/store.js';
import { writeClicks } from '../mmp/click-log.js';
import { saveMmpPostback } from '../mmp/intake.js';
import { fromMessage, type Queued } from './queue.js';
import { savePostbacks } from './save.js';

export interface ConsumeDeps {
  db: Db;
  writer: Writer;
  installModel: InstallModel;
  clickSecrets: () => Promise<readonly string[]>;
  now: () => Date;
}

/** Per message, in the batch's order: undefined once written (or found already written), else why it must be retried. */
type Settled = Array<unknown | undefined>;

export interface Consumed {
  settled: Settled;
  /** Rows newly stored (postbacks of either kind): forwarding has new copies to send. */
  stored: number;
}

export async function consumeBatch(bodies: readonly unknown[], deps: ConsumeDeps): Promise<Consumed> {
  const settled: Settled = bodies.map(() => undefined);
  const apple: Array<{ at: number; row: Extract<Queued, { kind: 'postback' }>['row'] }> = [];
  const clicks: Array<{ at: number; click: Extract<Queued, { kind: 'click' }>['click'] }> = [];
  const mmp: Array<{ at: number; queued: Extract<Queued, { kind: 'mmp' }> }> = [];
  for (const [at, body] of bodies.entries()) {
    try {
      const queued = fromMessage(body);
      if (queued.kind === 'postback') apple.push({ at, row: queued.row });
      else if (queued.kind === 'click') clicks.push({ at, click: queued.click });
      else mmp.push({ at, queued });
    } catch (error) {
      // Retried until the queue gives up on it: the dead-letter list shows it to admins.
      settled[at] = error;
    }
  }
  let stored = 0;
  const fail = (ats: readonly number[], error: unknown) => {
    for (const at of ats) settled[at] = error;
  };

  if (apple.length > 0) {
    try {
      const results = await deps.writer.run((tx) =>
        savePostbacks(
          tx,
          apple.map((a) => a.row),
          deps.installModel,
        ),
      );
      stored += results.filter((r) => r.outcome !== 'duplicate').length;
    } catch (error) {
      fail(
        apple.map((a) => a.at),
        error,
      );
    }
  }
  if (clicks.length > 0) {
    await writeClicks(
      deps.writer,
      clicks.map((c) => c.click),
      deps.now(),
    ).catch((error: unknown) =>
      fail(
        clicks.map((c) => c.at),
        error,
      ),
    );
  }
  if (mmp.length > 0) {
    const secrets = await deps.clickSecrets();
    for (const { at, queued } of mmp) {
      try {
        const partner = await getPartner(deps.db, queued.partnerId);
        // A partner removed since: kept in the queue (then its dead letters), never dropped unseen.
        if (!partner) throw new Error(`MMP partner ${queued.partnerId} no longer exists`);
        const saved = await deps.writer.run((tx) => saveMmpPostback(tx, partner, queued.read, queued.receivedAt, secrets));
        if (saved.outcome !== 'duplicate') stored++;
      } catch (error) {
        settled[at] = error;
      }
    }
  }
  return { settled, stored };
}
