// Wires the Node runtime: database, writer, keys and verifier, shared by the server and the CLI.

import { getConnInfo } from '@hono/node-server/conninfo';
import { sql } from 'drizzle-orm';
import { type Config, ConfigError } from '../config.js';
import type { NewClick } from '../db/mmp.js';
import type { NewPostbackRow } from '../db/schema.js';
import type { Writer } from '../db/store.js';
import { parseAllowlist, RateLimiter } from '../http/client-guard.js';
import type { AppDeps } from '../http/deps.js';
import { ClickLog, writeClicks } from '../mmp/click-log.js';
import { clickSecretSource, secretSource } from '../mmp/secrets.js';
import { errorMessage, type Logger } from '../observability/logger.js';
import { IngestMetrics } from '../observability/metrics.js';
import { staticAssets } from './assets.js';
import { type Background, startBackground } from './background.js';
import { createVerification } from './crypto.js';
import { type NodeDatabase, openDatabase, openReader } from './database.js';
import { GroupCommitWriter } from './group-commit.js';
import { IngestThread, type MmpWrite } from './ingest-thread.js';
import { ReportThreads } from './report-threads.js';

export interface NodeRuntime extends NodeDatabase {
  writer: GroupCommitWriter;
  deps: AppDeps;
  /** Starts the background loops: maintenance jobs and forwarding (the server does; the CLI does not). */
  startJobs(): void;
  close(): Promise<void>;
}

/**
 * The signing side of the dependencies on Node: click IDs and dashboard sessions signed with the
 * configured secrets (or the database's), and clicks written a moment after their redirect, many in
 * one commit.
 */
export function nodeClickDeps(
  writer: Writer,
  clickSecrets: readonly string[],
  now: () => Date,
  logger: Logger,
  delayMs = 100,
  write: (rows: NewClick[]) => Promise<unknown> = (rows) => writeClicks(writer, rows, now()),
  sessionSecrets: readonly string[] = [],
): { clickLog: ClickLog; deps: Pick<AppDeps, 'clickSecrets' | 'recordClick' | 'sessionSecrets'> } {
  const clickLog = new ClickLog(write, {
    delayMs,
    maxBatch: 2000,
    maxHeld: 200_000,
    onError: (error, counts) => logger.warn('clicks not written yet; retrying', { error: errorMessage(error), ...counts }),
  });
  return {
    clickLog,
    deps: {
      clickSecrets: clickSecretSource(clickSecrets, writer, now),
      sessionSecrets: secretSource('session', sessionSecrets, writer, now),
      recordClick: (row) => clickLog.add(row),
    },
  };
}

export interface RuntimeOptions {
  /**
   * Write postbacks on a thread of their own (the server does), and run the background work
   * there; the admin API's writes keep this thread's connection. Needs a database file.
   */
  ingestThread?: boolean;
  /** Run reports on reader threads (the server does). Needs a database file. */
  reportThreads?: boolean;
}

export async function createNodeRuntime(config: Config, logger: Logger, now: () => Date = () => new Date(), options: RuntimeOptions = {}): Promise<NodeRuntime> {
  // Node writes each postback before answering, in one file: a queue in front is the Worker's way to scale.
  if (config.ingestMode === 'queue')
    throw new ConfigError('SKANPOST_INGEST_MODE=queue is for Cloudflare Workers (docs/workers.md, "At scale"); the Node server writes each postback before answering');
  const verification = await createVerification(config.extraKeys, logger);
  const database = openDatabase(config.dbPath, { synchronous: config.synchronous });
  const writer = new GroupCommitWriter(database.sqlite, database.db);
  const retention = { unverifiedDays: config.retentionDays, verifiedDays: config.retentionVerifiedDays };
  // Threads and a second connection need a database file; `:memory:` lives in this connection only.
  const onFile = config.dbPath !== ':memory:';
  const ingestThread =
    options.ingestThread && onFile
      ? new IngestThread(
          { dbPath: config.dbPath, synchronous: config.synchronous, installModel: config.installModel, retention },
          (error) => {
            // Without its writer the server cannot keep postbacks: stop, so a supervisor restarts it.
            logger.error('ingest writer thread failed', { error: error.stack ?? error.message });
            process.exit(1);
          },
          logger,
        )
      : undefined;
  // Reports read through their own connection: under WAL they see committed data only and never
  // wait for the writer.
  const reader = onFile ? openReader(config.dbPath) : undefined;
  const reportThreads = options.reportThreads && onFile ? new ReportThreads(config.dbPath) : undefined;
  // Clicks and MMP postbacks are written where postbacks are: on the writer thread when there is one.
  const assets = staticAssets();
  const clicks = nodeClickDeps(writer, config.clickSecrets, now, logger, 100, ingestThread ? (rows) => ingestThread.writeClicks(rows) : undefined, config.sessionSecrets);
  const deps: AppDeps = {
    ...clicks.deps,
    db: reader?.db ?? database.db,
    adminKey: config.adminKey,
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    discrepancyThresholdPct: config.discrepancyThresholdPct,
    asset: async (name) => assets.get(name),
    maxInFlight: config.maxInFlight,
    guard: {
      allowlist: parseAllowlist(config.allowlist),
      ...(config.rateLimit ? { limiter: new RateLimiter(config.rateLimit, config.rateBurst ?? 1) } : {}),
      ...(config.trustedProxyHeader ? { trustedHeader: config.trustedProxyHeader } : {}),
      socketAddress: (c) => getConnInfo(c).remote.address,
    },
    metrics: new IngestMetrics(),
    runtimeMetrics: async () => {
      const pages = database.sqlite.pragma('page_count', { simple: true }) as number;
      const pageSize = database.sqlite.pragma('page_size', { simple: true }) as number;
      return [
        ingestThread ? await ingestThread.metrics() : writer.metricsText(),
        '# HELP skanpost_database_bytes Size of the SQLite database file\n# TYPE skanpost_database_bytes gauge',
        `skanpost_database_bytes ${pages * pageSize}`,
        '# HELP skanpost_clicks_pending Clicks answered and not yet written\n# TYPE skanpost_clicks_pending gauge',
        `skanpost_clicks_pending ${clicks.clickLog.pending}`,
      ].join('\n');
    },
    verification,
    writer,
    ...(ingestThread ? { save: (row: NewPostbackRow) => ingestThread.save(row), saveMmp: (mmp: MmpWrite) => ingestThread.saveMmp(mmp) } : {}),
    now,
    installModel: config.installModel,
    logger,
    ...(reportThreads ? { reports: reportThreads.run, wholeReports: reportThreads.runWhole } : {}),
    health: async () => (await database.db.get<{ ok: number }>(sql`select 1 as ok`))?.ok === 1,
  };
  let background: Background | undefined;
  return {
    ...database,
    writer,
    deps,
    startJobs() {
      if (ingestThread) ingestThread.startBackground();
      else background = startBackground({ db: database.db, writer, now, logger, installModel: config.installModel, retention });
    },
    async close() {
      const unwritten = await clicks.clickLog.close();
      if (unwritten > 0) logger.error('clicks lost at shutdown: the database would not take them', { clicks: unwritten });
      await background?.stop();
      await reportThreads?.close();
      await ingestThread?.close();
      await writer.close();
      reader?.sqlite.close();
      database.sqlite.close();
    },
  };
}
