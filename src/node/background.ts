// The Node server's background work: forwarding due deliveries, re-decoding and rebuild jobs,
// and hourly retention. It runs where postbacks are written (the ingest thread when there is
// one): every write it makes then goes through that one connection, never waiting for another
// connection's lock (better-sqlite3 waits synchronously, holding up whatever else the thread
// serves). Its state is in the database: a restart resumes where the last run stopped.
import type { InstallModel } from '../conversion/install-date.js';
import type { Db } from '../db/db.js';
import { releaseClaims } from '../db/outbox.js';
import { pruneExpired, type RetentionPolicy } from '../db/retention.js';
import type { Writer } from '../db/store.js';
import { sendDue } from '../forward/sender.js';
import { runPendingJobs } from '../maintenance/jobs.js';
import type { Logger } from '../observability/logger.js';
import { errorMessage } from '../observability/logger.js';
import { nodeSend } from './send.js';

export interface BackgroundDeps {
  db: Db;
  writer: Writer;
  now: () => Date;
  logger: Logger;
  installModel: InstallModel;
  retention: RetentionPolicy;
}

export interface Background {
  /** Resolves once the work in flight is settled; nothing new starts after. */
  stop(): Promise<void>;
}

const IDLE_POLL_MS = 500;
const JOBS_POLL_MS = 2_000;
const RETENTION_EVERY_MS = 3_600_000;

/** Runs `step` again and again, `pause(result)` ms apart, until stopped. */
function loop<T>(first: Promise<unknown>, step: () => Promise<T>, pause: (result: T) => number): Background {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const round = (): Promise<void> =>
    step().then((result) => {
      if (!stopped) timer = setTimeout(() => (running = round()), pause(result));
    });
  let running: Promise<void> = first.then(() => (stopped ? undefined : round()));
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

export function startBackground(deps: BackgroundDeps): Background {
  const { db, writer, now, logger } = deps;
  // One server per database file: claims found now were left by a process killed mid-send.
  const released = writer
    .run((tx) => releaseClaims(tx.db))
    .then(
      (count) => count && logger.warn('released deliveries claimed by a previous run', { released: count }),
      (error: unknown) => logger.error('forwarding failed', { error: errorMessage(error) }),
    );
  const forwarding = loop(
    released,
    () =>
      sendDue({ db, writer, fetch: globalThis.fetch, send: nodeSend, now }).catch((error: unknown) => {
        logger.error('forwarding failed', { error: errorMessage(error) });
        return 0;
      }),
    (sent) => (sent > 0 ? 0 : IDLE_POLL_MS),
  );
  let lastPrune = 0;
  const maintenance = loop(
    Promise.resolve(),
    async () => {
      try {
        // Re-decoding after schema or campaign changes, and rebuilds, resume after a restart
        // (their cursor is in the database); retention runs hourly, in chunks, between them.
        await runPendingJobs(db, writer, deps.installModel, now);
        if (now().getTime() - lastPrune < RETENTION_EVERY_MS) return;
        lastPrune = now().getTime();
        const pruned = await pruneExpired(writer, deps.retention, now());
        if (pruned) logger.info('pruned expired postbacks', { pruned });
      } catch (error) {
        logger.error('background job failed', { error: errorMessage(error) });
      }
    },
    () => JOBS_POLL_MS,
  );
  return {
    stop: async () => void (await Promise.all([forwarding.stop(), maintenance.stop()])),
  };
}
