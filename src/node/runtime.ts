// Wires the Node runtime: database, writer, keys and verifier, shared by the server and the CLI.
import { sql } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { AppDeps, Logger } from '../http/app.js';
import { createEcdsaVerifier } from '../postback/ecdsa.js';
import { buildKeyRing } from '../postback/keys.js';
import type { Verification } from '../postback/inspect.js';
import { nodeP192 } from './crypto.js';
import { openDatabase, type NodeDatabase } from './database.js';
import { GroupCommitWriter } from './group-commit.js';

export interface NodeRuntime extends NodeDatabase {
  writer: GroupCommitWriter;
  deps: AppDeps;
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
  const deps: AppDeps = {
    verification,
    writer,
    now,
    installModel: config.installModel,
    logger,
    health: async () => (await database.db.get<{ ok: number }>(sql`select 1 as ok`))?.ok === 1,
  };
  return {
    ...database,
    writer,
    deps,
    async close() {
      await writer.close();
      database.sqlite.close();
    },
  };
}
