// The Node server's forwarding loop: due outbox rows are sent from the process that writes, so
// settling a delivery never waits for another connection's write lock (better-sqlite3 waits
// synchronously, holding up whatever else that thread serves). Its state is in the database:
// a restart resumes where the last run stopped.
import type { Db, Writer } from '../db/db.js';
import { releaseClaims } from '../db/outbox.js';
import { sendDue } from '../forward/sender.js';
import type { Logger } from '../http/app.js';

export interface ForwardingLoop {
  /** Resolves once the sends in flight are settled; nothing new is claimed after. */
  stop(): Promise<void>;
}

const IDLE_POLL_MS = 500;

export function startForwarding(deps: { db: Db; writer: Writer; now: () => Date; logger: Pick<Logger, 'warn' | 'error'> }): ForwardingLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const round = (): Promise<void> =>
    sendDue({ db: deps.db, writer: deps.writer, fetch: globalThis.fetch, now: deps.now })
      .catch((error: unknown) => {
        deps.logger.error('forwarding failed', { error: error instanceof Error ? error.message : String(error) });
        return 0;
      })
      .then((sent) => {
        if (!stopped) timer = setTimeout(() => (running = round()), sent > 0 ? 0 : IDLE_POLL_MS);
      });
  // One server per database file: claims found now were left by a process killed mid-send.
  let running: Promise<void> = deps.writer
    .run((db) => releaseClaims(db))
    .then(
      (released) => {
        if (released) deps.logger.warn('released deliveries claimed by a previous run', { released });
      },
      (error: unknown) => deps.logger.error('forwarding failed', { error: error instanceof Error ? error.message : String(error) }),
    )
    .then(() => (stopped ? undefined : round()));
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
