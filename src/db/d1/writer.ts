// The Writer on D1: one unit per writer (a request, or a cron run), its batches committed by D1.

import type { Db } from '../db.js';
import { StorageUnavailableError } from '../db.js';
import type { Writer } from '../store.js';
import { D1Unit } from './unit.js';

// D1 answers these when it cannot take a write right now: the device should retry, not lose it.
const TRANSIENT_D1 =
  /D1_ERROR.*(overloaded|busy|SQLITE_BUSY|SQLITE_FULL|storage|reset|timed? ?out|Network connection lost|internal error)|D1 DB (is )?(overloaded|reset)|Network connection lost/i;

export interface D1Store {
  writer: Writer;
  unit: D1Unit;
}

/** `settingsFrom`: for a shard, the unit on `DB` its units read the settings through. */
export function d1Store(db: Db, settingsFrom?: D1Unit): D1Store {
  const unit = new D1Unit(db, settingsFrom);
  const writer: Writer = {
    async run(work) {
      try {
        return await work(unit);
      } catch (error) {
        const message = error instanceof Error ? `${error.message} ${error.cause instanceof Error ? error.cause.message : ''}` : String(error);
        throw TRANSIENT_D1.test(message) ? new StorageUnavailableError('D1_UNAVAILABLE', { cause: error }) : error;
      }
    },
  };
  return { writer, unit };
}
