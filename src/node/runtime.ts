// Wires the Node runtime: database, writer, keys and verifier, shared by the server and the CLI.
import { sql } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { AppDeps, Logger } from '../http/app.js';
import { createEcdsaVerifier } from '../postback/ecdsa.js';
import { buildKeyRing } from '../postback/keys.js';
import type { Verification } from '../postback/inspect.js';
import { nodeP192 } from './crypto.js';
import { openDatabase, openReader, type NodeDatabase } from './database.js';
import { runPendingJobs } from '../db/maintenance.js';
import { GroupCommitWriter } from './group-commit.js';

export interface NodeRuntime extends NodeDatabase {
  writer: GroupCommitWriter;
  deps: AppDeps;
  /** Starts the background job loop (the server does; one-shot CLI commands do not). */
  startJobs(): void;
  close(): Promise<void>;
}

export async function createVerification(extraKeys: string, logger?: Logger): Promise<Verification> {
  const keys = await buildKeyRing(extraKeys);
  if (keys.extra.length > 0) {
    logger?.warn('SKANPOST_EXTRA_KEYS is set: postbacks signed with these keys count as genuine', { keys: keys.extra });
  }
  return { keys, verifier: createEcdsaVerifier({ p192: nodeP192 }) };
}

export async function createNodeRuntime(config: Config, logger: Logger, now: () => Date = () => new Date()): Promise<NodeRuntime> {
  const verification = await createVerification(config.extraKeys, logger);
  const database = openDatabase(config.dbPath, { synchronous: config.synchronous });
  const writer = new GroupCommitWriter(database.sqlite, database.db);
  // Reports read through their own connection: under WAL they see committed data only and never
  // wait for the writer.
  const reader = config.dbPath === ':memory:' ? undefined : openReader(config.dbPath);
  const deps: AppDeps = {
    db: reader?.db ?? database.db,
    adminKey: config.adminKey,
    verification,
    writer,
    now,
    installModel: config.installModel,
    logger,
    health: async () => (await database.db.get<{ ok: number }>(sql`select 1 as ok`))?.ok === 1,
  };
  let stopped = false;
  let jobs: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  // Re-decoding after schema or campaign changes, and rebuilds, run in the background and
  // resume after a restart (their cursor is in the database).
  const drainJobs = () => {
    jobs = jobs
      .then(() => runPendingJobs(database.db, writer, config.installModel, now))
      .then(
        () => undefined,
        (error) => logger.error('background job failed', { error: error instanceof Error ? error.message : String(error) }),
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(drainJobs, 2000);
      });
  };
  return {
    ...database,
    writer,
    deps,
    startJobs: drainJobs,
    async close() {
      stopped = true;
      clearTimeout(timer);
      await jobs;
      await writer.close();
      reader?.sqlite.close();
      database.sqlite.close();
    },
  };
}
