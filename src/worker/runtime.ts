// Wires the Workers runtime: D1 through drizzle, configuration from vars and secrets. Everything
// tied to a request (bindings, env, the database handle, the write unit) is built per call; only
// immutable caches (parsed keys, imported CryptoKeys) and per-isolate counters live at module level.
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type Config, ConfigError, readConfig } from '../config.js';
import type { D1Unit } from '../db/d1/unit.js';
import { d1Store } from '../db/d1/writer.js';
import type { Db } from '../db/db.js';
import { StorageUnavailableError } from '../db/db.js';
import { findClick } from '../db/mmp.js';
import * as schema from '../db/schema.js';
import { heldMessages } from '../db/schema.js';
import { AppHeldError, globalId, mappedShards, type Shard, type ShardMapCache, type Shards } from '../db/shards.js';
import type { Writer } from '../db/store.js';
import { parseAllowlist, RateLimiter } from '../http/client-guard.js';
import type { AppDeps } from '../http/deps.js';
import { fromMessage, type Queued, type QueuedMessage, queueIndex, toMessage } from '../ingest/queue.js';
import { savePostback } from '../ingest/save.js';
import { writeClicks } from '../mmp/click-log.js';
import { mmpAppOf, saveMmpPostback } from '../mmp/intake.js';
import { clickSecretSource, type SecretCache, secretSource } from '../mmp/secrets.js';
import { errorMessage, jsonLogger } from '../observability/logger.js';
import { IngestMetrics } from '../observability/metrics.js';
import { createEcdsaVerifier } from '../postback/ecdsa.js';
import type { Verification } from '../postback/inspect.js';
import { buildKeyRing, type KeyRing } from '../postback/keys.js';

/** The bindings, vars and secrets wrangler.toml declares. */
export interface WorkerEnv {
  DB: D1Database;
  SKANPOST_ADMIN_KEY?: string;
  SKANPOST_EXTRA_KEYS?: string;
  SKANPOST_INSTALL_MODEL?: string;
  SKANPOST_LOG_LEVEL?: string;
  SKANPOST_RETENTION_DAYS?: string;
  SKANPOST_RETENTION_VERIFIED_DAYS?: string;
  SKANPOST_RATE_LIMIT?: string;
  SKANPOST_RATE_BURST?: string;
  SKANPOST_TRUSTED_PROXY_HEADER?: string;
  SKANPOST_ALLOWLIST?: string;
  SKANPOST_CLICK_SECRET?: string;
  SKANPOST_SESSION_SECRET?: string;
  SKANPOST_PUBLIC_URL?: string;
  /** The static assets of wrangler.toml's [assets] (public/: the dashboard's scripts and styles). */
  ASSETS?: Fetcher;
  SKANPOST_INGEST_MODE?: string;
  /** Queue mode: the producer queues INGEST_QUEUE_0 … INGEST_QUEUE_{M-1} (any other name is ignored). */
  [producer: `INGEST_QUEUE_${number}`]: Queue<QueuedMessage> | undefined;
  /** Sharded by app: the D1 databases SHARD_0 … SHARD_{N-1} (none bound: everything on DB). */
  [shard: `SHARD_${number}`]: D1Database | undefined;
}

/** The bound shard databases, in index order; a gap ends the list (SHARD_0, _1, … as bound). */
function shardBindings(env: WorkerEnv): D1Database[] {
  const bound: D1Database[] = [];
  for (let i = 0; env[`SHARD_${i}`]; i++) bound.push(env[`SHARD_${i}`]!);
  return bound;
}

/**
 * Queue mode: a message goes to the queue its identity picks; the answer waits for `send()`, which
 * Cloudflare resolves once the message is written. A failed send is a 503: the sender retries.
 */
function queuedIngest(env: WorkerEnv): (queued: Queued) => Promise<void> {
  const queues = producerQueues(env);
  if (queues.length === 0) throw new ConfigError('SKANPOST_INGEST_MODE=queue needs a producer binding INGEST_QUEUE_0 (docs/workers.md, "At scale")');
  return async (queued) => {
    try {
      await queues[queueIndex(queued, queues.length)]!.send(toMessage(queued), { contentType: 'json' });
    } catch (error) {
      throw new StorageUnavailableError('queue_send_failed', { cause: error });
    }
  };
}

/** Dead-letter replay: each message back to the queue its identity picks. */
function requeue(env: WorkerEnv): (messages: readonly unknown[]) => Promise<void> {
  const queues = producerQueues(env);
  return async (messages) => {
    for (const message of messages) await queues[queueIndex(fromMessage(message), queues.length)]!.send(message as QueuedMessage, { contentType: 'json' });
  };
}

/** The bound producer queues, in index order; a gap ends the list (INGEST_QUEUE_0, _1, … as bound). */
function producerQueues(env: WorkerEnv): Array<Queue<QueuedMessage>> {
  const queues: Array<Queue<QueuedMessage>> = [];
  for (let i = 0; env[`INGEST_QUEUE_${i}`]; i++) queues.push(env[`INGEST_QUEUE_${i}`]!);
  return queues;
}

// Parsed once per isolate and per value: the key ring is immutable, and its CryptoKeys are
// imported lazily by the verifier and kept with it.
let keyCache: { extraKeys: string; keys: Promise<KeyRing> } | undefined;
const verifier = createEcdsaVerifier();

function keyRing(extraKeys: string): Promise<KeyRing> {
  if (keyCache?.extraKeys !== extraKeys) keyCache = { extraKeys, keys: buildKeyRing(extraKeys) };
  return keyCache.keys;
}

// Per isolate, not global: each Cloudflare location runs its own isolates (docs/workers.md). Counters
// and buckets are kept only so one isolate's view is not rebuilt per request.
const metrics = new IngestMetrics();
let limiter: RateLimiter | undefined;

function rateLimiter(config: Config): RateLimiter | undefined {
  if (config.rateLimit === undefined) return undefined;
  if (limiter?.perSecond !== config.rateLimit || limiter.burst !== config.rateBurst) limiter = new RateLimiter(config.rateLimit, config.rateBurst ?? 1);
  return limiter;
}

// The database's secrets never change once made: read once per isolate, not per click or request.
const storedClickSecret: SecretCache = {};
const storedSessionSecret: SecretCache = {};
// Which shard holds which app, per DB binding: placements never change but by a move, whose switch
// outwaits this.
let shardMaps = new WeakMap<D1Database, ShardMapCache>();

function shardMapOf(binding: D1Database): ShardMapCache {
  const known = shardMaps.get(binding);
  if (known) return known;
  const cache: ShardMapCache = new Map();
  shardMaps.set(binding, cache);
  return cache;
}

/** Drops what this isolate remembers of the shard map (a move's switch; tests that empty the databases). */
export function forgetShardPlacements(): void {
  shardMaps = new WeakMap();
}

/** A click's write (or send), tried three times over half a second: D1 and Queues are briefly unavailable now and then. */
async function retried(work: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await work();
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 150 * attempt));
    }
  }
}

export interface WorkerRuntime {
  config: Config;
  /** `DB`: the settings and the shard map. */
  db: Db;
  writer: Writer;
  /** The unit the writer runs on: what it read of the settings, for decisions after a write. */
  unit: D1Unit;
  /** Where each app's rows are: SHARD_k, or DB alone. */
  shards: Shards;
  /** The shards this invocation stored postbacks on: forwarding sends their new copies. */
  touched: Set<Shard>;
  deps: AppDeps & { shards: Shards; saveMmp: NonNullable<AppDeps['saveMmp']> };
}

/**
 * `defer` keeps work going after the answer (the request's `ctx.waitUntil`); without it (tests,
 * cron) the work simply runs on.
 */
export async function createWorkerRuntime(env: WorkerEnv, now: () => Date = () => new Date(), defer: (work: Promise<unknown>) => void = () => {}): Promise<WorkerRuntime> {
  const config = readConfig(env as unknown as Record<string, string | undefined>);
  const logger = jsonLogger((line) => console.log(line), config.logLevel);
  const db = drizzle(env.DB, { schema }) as unknown as Db;
  const { writer, unit } = d1Store(db);
  const bound = shardBindings(env);
  const shards = mappedShards(
    db,
    Math.max(1, bound.length),
    (index) => {
      if (bound.length === 0) return { index: 0, db, writer };
      const shardDb = drizzle(bound[index]!, { schema }) as unknown as Db;
      return { index, db: shardDb, writer: d1Store(shardDb, unit).writer };
    },
    shardMapOf(env.DB),
  );
  const touched = new Set<Shard>();
  const installModel = config.installModel;
  const verification: Verification = { keys: await keyRing(config.extraKeys), verifier };
  const limiter = rateLimiter(config);
  const enqueue = config.ingestMode === 'queue' ? queuedIngest(env) : undefined;
  const clickSecrets = clickSecretSource(config.clickSecrets, writer, now, storedClickSecret);
  // A write whose app a move holds waits in DB; the move writes it on the app's new shard.
  const park = async (queued: Queued, appId: number) => {
    await db.insert(heldMessages).values({ appId, body: JSON.stringify(toMessage(queued)), heldAt: now() });
  };
  const deps: WorkerRuntime['deps'] = {
    db,
    writer,
    shards,
    // Each postback on its app's shard; the id it is answered with names the shard.
    save: async (row) => {
      const shard = await shards.place(row.appId);
      const saved = await shard.writer.run((tx) => savePostback(tx, row, installModel));
      touched.add(shard);
      return { ...saved, id: globalId(shard.index, saved.id) };
    },
    saveMmp: async ({ partner, read, receivedAt, secrets }) => {
      const appId = await mmpAppOf(
        read,
        () => unit.settings(),
        secrets,
        async (clickId) => {
          for (const shard of shards.all) {
            const click = await findClick(shard.db, clickId);
            if (click) return click.appId;
          }
          return undefined;
        },
      );
      const shard = await shards.place(appId);
      const saved = await shard.writer.run((tx) => saveMmpPostback(tx, partner, read, receivedAt, secrets));
      touched.add(shard);
      return { ...saved, id: globalId(shard.index, saved.id) };
    },
    verification,
    now,
    installModel: config.installModel,
    adminKey: config.adminKey,
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    discrepancyThresholdPct: config.discrepancyThresholdPct,
    guard: {
      allowlist: parseAllowlist(config.allowlist),
      ...(limiter ? { limiter } : {}),
      // Cloudflare sets CF-Connecting-IP to the address that connected to its edge; nothing a
      // client sends can replace it. An operator may still name another header.
      trustedHeader: config.trustedProxyHeader ?? 'CF-Connecting-IP',
    },
    metrics,
    logger,
    health: async () => (await db.get<{ ok: number }>(sql`select 1 as ok`))?.ok === 1,
    clickSecrets,
    sessionSecrets: secretSource('session', config.sessionSecrets, writer, now, storedSessionSecret),
    ...(enqueue ? { enqueue, requeue: requeue(env) } : {}),
    asset: async (name) => {
      const response = await env.ASSETS?.fetch(`https://assets.invalid/${name}`);
      return response?.ok ? { body: await response.text(), type: response.headers.get('content-type') ?? 'application/octet-stream' } : undefined;
    },
    // One write per click, after its redirect: D1 takes it in one batch (the click, its counts); in
    // queue mode the click is queued instead, and the consumer writes a batch's clicks together.
    park,
    recordClick: (row) =>
      defer(
        retried(async () => {
          if (enqueue) return enqueue({ kind: 'click', click: row });
          try {
            await writeClicks((await shards.place(row.appId)).writer, [row], now());
          } catch (error) {
            if (!(error instanceof AppHeldError)) throw error;
            await park({ kind: 'click', click: row }, error.appId);
          }
        }).catch((error: unknown) => logger.error('click not written', { error: errorMessage(error), link_id: row.linkId })),
      ),
  };
  return { config, db, writer, unit, shards, touched, deps };
}
