// `skanpost destinations list|add|pause|resume|stats` and `skanpost deliveries dead|replay`.

import { readFileSync } from 'node:fs';
import { destinationStats, getDestination, listDestinations, setPaused } from '../../db/destinations.js';
import { deliveryIdsOf, listDeliveries, replayDeliveries } from '../../db/outbox.js';
import { singleShard } from '../../db/shards.js';
import { DestinationInput } from '../../forward/destination-input.js';
import { backfill, createDestination, DestinationError, publicDestination } from '../../forward/destinations.js';
import { parseStrictJson, toPlain } from '../../postback/json.js';
import type { NodeRuntime } from '../runtime.js';

export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

const id = (value: string | undefined, what: string) => {
  if (!value || !/^\d+$/.test(value)) throw new CommandError(`${what} needs a destination id`, 2);
  return Number(value);
};

export async function destinationsCommand(runtime: NodeRuntime, args: string[], options: Record<string, string | undefined>): Promise<unknown> {
  const [sub, arg] = args;
  const now = new Date();
  switch (sub) {
    case 'list':
      return (await listDestinations(runtime.db)).map(publicDestination);
    case 'add': {
      if (!arg) throw new CommandError('destinations add takes a JSON file (the body of POST /v1/destinations)', 2);
      let raw: unknown;
      try {
        raw = toPlain(parseStrictJson(readFileSync(arg, 'utf8')));
      } catch (error) {
        throw new CommandError(`cannot read ${arg}: ${(error as Error).message}`, 2);
      }
      const parsed = DestinationInput.safeParse(raw);
      if (!parsed.success) throw new CommandError(parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; '), 1);
      let since: Date | undefined;
      if (options['backfill-since']) {
        since = new Date(options['backfill-since']);
        if (Number.isNaN(since.getTime())) throw new CommandError('--backfill-since takes an RFC 3339 time', 2);
      }
      try {
        const row = await runtime.writer.run((tx) => createDestination(tx, parsed.data, now));
        let queued = 0;
        for (let afterId = 0, done = !since; !done; ) {
          const step = await runtime.writer.run((tx) => backfill(tx, row, since!, now, afterId));
          ({ lastId: afterId, done } = step);
          queued += step.queued;
        }
        return { ...publicDestination(row), backfilled: queued };
      } catch (error) {
        if (error instanceof DestinationError) throw new CommandError(`${error.field}: ${error.message}`, 1);
        throw error;
      }
    }
    case 'pause':
    case 'resume': {
      const row = await runtime.writer.run((tx) => setPaused(tx.db, id(arg, sub), sub === 'pause', now));
      if (!row) throw new CommandError(`no destination ${arg}`, 1);
      return publicDestination(row);
    }
    case 'stats': {
      const destinationId = id(arg, 'stats');
      if (!(await getDestination(runtime.db, destinationId))) throw new CommandError(`no destination ${arg}`, 1);
      return destinationStats(singleShard(runtime.db, runtime.writer).all, destinationId);
    }
    default:
      throw new CommandError('usage: skanpost destinations list|add FILE [--backfill-since T]|pause ID|resume ID|stats ID', 2);
  }
}

export async function deliveriesCommand(runtime: NodeRuntime, args: string[], options: Record<string, string | undefined>): Promise<unknown> {
  const [sub] = args;
  const destinationId = options.destination === undefined ? undefined : id(options.destination, '--destination');
  if (sub === 'dead') {
    const rows = await listDeliveries(runtime.db, { destinationId, state: 'dead' }, 0, Number.MAX_SAFE_INTEGER);
    return rows.map((d) => ({
      id: d.id,
      postback_id: d.postbackId,
      mmp_postback_id: d.mmpPostbackId,
      click_row_id: d.clickRowId,
      destination_id: d.destinationId,
      attempts: d.attempts,
      last_status: d.lastStatus,
      last_error: d.lastError,
    }));
  }
  if (sub === 'replay') {
    const ids = options.ids?.split(',').map((s) => s.trim());
    if (ids?.some((s) => !/^\d+$/.test(s))) throw new CommandError('--ids takes comma-separated delivery ids', 2);
    const state = options.state;
    if (state !== undefined && state !== 'dead' && state !== 'pending') throw new CommandError('--state takes dead or pending', 2);
    // As the API: replaying everything needs to be asked for, never the result of a forgotten option.
    if (!ids && destinationId === undefined && state === undefined) throw new CommandError('replay needs --ids, or a filter (--destination, --state)', 2);
    const replayed = await runtime.writer.run(async (tx) =>
      replayDeliveries(tx, ids ? ids.map(Number) : await deliveryIdsOf(tx.db, { destinationId, state: state ?? 'dead' }), new Date()),
    );
    return { replayed, note: 'the server sends them; this command only makes them due' };
  }
  throw new CommandError('usage: skanpost deliveries dead [--destination ID] | replay --ids 1,2 | replay --destination ID [--state dead|pending]', 2);
}
