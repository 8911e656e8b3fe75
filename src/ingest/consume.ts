// Queue mode's consumer: a batch of queued messages written as ingest would have written them.
// Apple's postbacks of a batch go in one write unit per shard (one D1 round trip for all of their
// inserts there), the batch's clicks in another per shard, and each MMP postback in its own (its
// click checks read first). Shards are written in parallel, and a write that fails leaves only its
// own messages to be retried. Every write is idempotent, so the queue may deliver a message again,
// or out of order, and nothing is counted twice.
import type { InstallModel } from '../conversion/install-date.js';
import type { Db } from '../db/db.js';
import { getPartner } from '../db/mmp.js';
import type { MmpPartnerRow } from '../db/schema.js';
import { AppHeldError, type Shard, type Shards } from '../db/shards.js';
import { writeClicks } from '../mmp/click-log.js';
import type { MmpSaveResult, ReadMmpPostback } from '../mmp/intake.js';
import { fromMessage, type Queued } from './queue.js';
import { savePostbacks } from './save.js';

export interface ConsumeDeps {
  /** `DB`: the settings (MMP partners). */
  db: Db;
  shards: Shards;
  installModel: InstallModel;
  clickSecrets: () => Promise<readonly string[]>;
  /** Keeps a message whose app a move holds, for the move to write after its switch. */
  park?: (queued: Queued, appId: number) => Promise<void>;
  /** Stores an MMP postback on its app's shard. */
  saveMmp: (mmp: { partner: MmpPartnerRow; read: ReadMmpPostback; receivedAt: Date; secrets: readonly string[] }) => Promise<MmpSaveResult>;
  now: () => Date;
}

/** Per message, in the batch's order: undefined once written (or found already written), else why it must be retried. */
type Settled = Array<unknown | undefined>;

export interface Consumed {
  settled: Settled;
  /** The shards Apple postbacks or clicks were newly stored on: forwarding has new copies to send there (`saveMmp` tells its own). */
  storedOn: Set<Shard>;
}

export async function consumeBatch(bodies: readonly unknown[], deps: ConsumeDeps): Promise<Consumed> {
  const settled: Settled = bodies.map(() => undefined);
  const apple: Array<{ at: number; row: Extract<Queued, { kind: 'postback' }>['row'] }> = [];
  const clicks: Array<{ at: number; click: Extract<Queued, { kind: 'click' }>['click'] }> = [];
  const mmp: Array<{ at: number; queued: Extract<Queued, { kind: 'mmp' }> }> = [];
  const parsed = new Map<number, Queued>();
  for (const [at, body] of bodies.entries()) {
    try {
      const queued = fromMessage(body);
      parsed.set(at, queued);
      if (queued.kind === 'postback') apple.push({ at, row: queued.row });
      else if (queued.kind === 'click') clicks.push({ at, click: queued.click });
      else mmp.push({ at, queued });
    } catch (error) {
      // Retried until the queue gives up on it: the dead-letter list shows it to admins.
      settled[at] = error;
    }
  }
  const storedOn = new Set<Shard>();
  // A message whose app a move holds is kept for the move (written after its switch), not retried:
  // the hold may outlast the queue's retries.
  const fail = async (ats: readonly number[], error: unknown) => {
    for (const at of ats) {
      if (error instanceof AppHeldError && deps.park) {
        try {
          await deps.park(parsed.get(at)!, error.appId);
          continue;
        } catch (parking) {
          settled[at] = parking;
          continue;
        }
      }
      settled[at] = error;
    }
  };

  // Each shard's postbacks in one write, the shards in parallel: one failing retries only its own.
  await Promise.all(
    (await inShards(deps.shards, apple, (a) => a.row.appId, fail)).map(([shard, group]) =>
      shard.writer
        .run((tx) =>
          savePostbacks(
            tx,
            group.map((a) => a.row),
            deps.installModel,
          ),
        )
        .then(
          (results) => {
            if (results.some((r) => r.outcome !== 'duplicate')) storedOn.add(shard);
          },
          (error: unknown) =>
            fail(
              group.map((a) => a.at),
              error,
            ),
        ),
    ),
  );
  await Promise.all(
    (await inShards(deps.shards, clicks, (c) => c.click.appId, fail)).map(([shard, group]) =>
      writeClicks(
        shard.writer,
        group.map((c) => c.click),
        deps.now(),
      ).then(
        () => storedOn.add(shard),
        (error: unknown) =>
          fail(
            group.map((c) => c.at),
            error,
          ),
      ),
    ),
  );
  for (const { at, queued } of mmp) {
    try {
      const partner = await getPartner(deps.db, queued.partnerId);
      // A partner removed since: kept in the queue (then its dead letters), never dropped unseen.
      if (!partner) throw new Error(`MMP partner ${queued.partnerId} no longer exists`);
      await deps.saveMmp({ partner, read: queued.read, receivedAt: queued.receivedAt, secrets: await deps.clickSecrets() });
    } catch (error) {
      await fail([at], error);
    }
  }
  return { settled, storedOn };
}

/**
 * `items` by shard, in index order. Those of an app a move holds are failed with its `AppHeldError`
 * (and so kept for the move); when the shard map cannot be read, none is written and all are retried.
 */
async function inShards<T extends { at: number }>(
  shards: Shards,
  items: readonly T[],
  appOf: (item: T) => number | null | undefined,
  fail: (ats: number[], error: unknown) => Promise<void>,
): Promise<Array<[Shard, T[]]>> {
  const groups = new Map<Shard, T[]>();
  const held = new Map<number, number[]>();
  try {
    for (const item of items) {
      try {
        const shard = await shards.place(appOf(item));
        const group = groups.get(shard);
        if (group) group.push(item);
        else groups.set(shard, [item]);
      } catch (error) {
        if (!(error instanceof AppHeldError)) throw error;
        held.set(error.appId, [...(held.get(error.appId) ?? []), item.at]);
      }
    }
  } catch (error) {
    await fail(
      items.map((i) => i.at),
      error,
    );
    return [];
  }
  for (const [appId, ats] of held) await fail(ats, new AppHeldError(appId));
  return [...groups].sort(([a], [b]) => a.index - b.index);
}
