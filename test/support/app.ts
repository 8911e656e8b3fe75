// An in-process skanpost on an in-memory database, driven with app.request() as Hono's tests do.

import { asc } from 'drizzle-orm';
import { DEFAULT_INSTALL_MODEL } from '../../src/conversion/install-date.js';
import { postbacks } from '../../src/db/schema.js';
import { createApp } from '../../src/http/app.js';
import type { AppDeps } from '../../src/http/deps.js';
import type { ClickLog } from '../../src/mmp/click-log.js';
import { staticAssets } from '../../src/node/assets.js';
import { createVerification } from '../../src/node/crypto.js';
import { openDatabase } from '../../src/node/database.js';
import { GroupCommitWriter } from '../../src/node/group-commit.js';
import { nodeClickDeps } from '../../src/node/runtime.js';
import type { Logger } from '../../src/observability/logger.js';
import { IngestMetrics } from '../../src/observability/metrics.js';

const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export interface TestApp {
  post(body: unknown, init?: { path?: string; headers?: Record<string, string> }): Promise<Response>;
  postRaw(body: BodyInit | null, init?: { path?: string; method?: string; headers?: Record<string, string> }): Promise<Response>;
  rows(): Promise<(typeof postbacks.$inferSelect)[]>;
  app: ReturnType<typeof createApp>;
  /** The dependencies the app was made with, to build variants in a test. */
  deps: AppDeps;
  database: ReturnType<typeof openDatabase>;
  writer: GroupCommitWriter;
  /** Clicks waiting for their write: `flush()` before reading them. */
  clickLog: ClickLog;
  close(): Promise<void>;
}

export const SKAN_PATH = '/.well-known/skadnetwork/report-attribution/';
export const AAK_PATH = '/.well-known/appattribution/report-attribution/';

export async function createTestApp(options: { extraKeys?: string; path?: string; now?: () => Date; adminKey?: string; clickSecrets?: string[] } = {}): Promise<TestApp> {
  const database = openDatabase(options.path ?? ':memory:');
  const writer = new GroupCommitWriter(database.sqlite, database.db);
  const verification = await createVerification(options.extraKeys ?? '');
  const now = options.now ?? (() => new Date('2026-11-25T12:00:00Z'));
  const assets = staticAssets();
  const clicks = nodeClickDeps(writer, options.clickSecrets ?? [], now, silentLogger, 10);
  const deps: AppDeps = {
    ...clicks.deps,
    metrics: new IngestMetrics(),
    db: database.db,
    adminKey: options.adminKey,
    verification,
    writer,
    installModel: DEFAULT_INSTALL_MODEL,
    now,
    logger: silentLogger,
    health: async () => true,
    asset: async (name) => assets.get(name),
  };
  const app = createApp(deps);
  const postRaw: TestApp['postRaw'] = async (body, init = {}) => app.request(init.path ?? SKAN_PATH, { method: init.method ?? 'POST', body, headers: init.headers ?? {} });
  return {
    app,
    deps,
    database,
    writer,
    postRaw,
    post: (body, init = {}) => postRaw(JSON.stringify(body), init),
    rows: () => database.db.select().from(postbacks).orderBy(asc(postbacks.id)),
    clickLog: clicks.clickLog,
    async close() {
      await clicks.clickLog.close();
      await writer.close();
      database.sqlite.close();
    },
  };
}

export interface AppleSample {
  id: string;
  expect: 'verified' | 'invalid' | 'development';
  about: string;
  body: Record<string, unknown>;
}

/** Apple-published postbacks (a copy of shared/vectors/apple-samples.json, kept in sync by a test). */
export async function loadAppleSamples(): Promise<AppleSample[]> {
  const { readFile } = await import('node:fs/promises');
  return JSON.parse(await readFile(new URL('../../fixtures/apple-samples.json', import.meta.url), 'utf8'));
}
