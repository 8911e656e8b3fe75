// The Cloudflare Workers entry: the same Hono app as on Node over D1, a Cron Trigger that sends
// due copies to partners, runs re-derive/rebuild chunks and prunes expired rows, and in queue mode
// the consumer that writes the postbacks the edge queued.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { keepDeadLetters } from '../db/dead-letters.js';
import { pruneExpired } from '../db/retention.js';
import type { Shard } from '../db/shards.js';
import { sendDue } from '../forward/sender.js';
import { createApp } from '../http/app.js';
import type { AppDeps } from '../http/deps.js';
import { consumeBatch } from '../ingest/consume.js';
import { dispatchJobs, runPendingJobs } from '../maintenance/jobs.js';
import { advanceMoves, copyingMoves } from '../maintenance/moves.js';
import { errorMessage } from '../observability/logger.js';
import { createWorkerRuntime, type WorkerEnv, type WorkerRuntime } from './runtime.js';

export type { WorkerEnv } from './runtime.js';

/** The ingest queues' dead-letter queue (wrangler.toml's dead_letter_queue), consumed by this Worker. */
const DEAD_LETTER_QUEUE = 'skanpost-ingest-dlq';

/**
 * What one cron run may do. D1 counts queries per invocation and Workers bound wall time, so each
 * task stops after a few chunks; the next run resumes from the state kept in D1.
 */
export const CRON_BUDGET = {
  /** Rounds of claim-and-send, each of up to `deliveriesPerRound` copies. */
  sendRounds: 10,
  deliveriesPerRound: 25,
  /** Re-derive / rebuild chunks and their size (each row costs a few statements). */
  jobChunks: 10,
  jobChunkSize: 50,
  /** Retention chunks and their size. */
  pruneChunks: 10,
  pruneChunkSize: 500,
  /** Stop starting new work after this long (ms). */
  wallMs: 20_000,
  /** Shards one run serves (the rest in the next runs): each takes a share of the budgets above. */
  shardsPerRun: 4,
  /** Slices of moves between shards (each a read on one shard and a batch on another). */
  moveSlices: 40,
};

/** Sends a shard's due deliveries, a few rounds at most; resolves with how many were attempted. */
async function drainOutbox({ db: settingsDb, deps }: WorkerRuntime, { db, writer }: Shard, started: number, rounds = CRON_BUDGET.sendRounds): Promise<number> {
  let attempted = 0;
  for (let round = 0; round < rounds && Date.now() - started < CRON_BUDGET.wallMs; round++) {
    const sent = await sendDue({ db, writer, settingsDb, fetch: (input, init) => fetch(input, init), now: deps.now }, CRON_BUDGET.deliveriesPerRound);
    attempted += sent;
    if (sent < CRON_BUDGET.deliveriesPerRound) break;
  }
  return attempted;
}

/** After a write: the new copies of the shards it stored on go out now, not at the next cron. */
function forwardStored(runtime: WorkerRuntime): Promise<void> | undefined {
  if ((runtime.unit.loadedSettings?.destinations.length ?? 0) === 0 || runtime.touched.size === 0) return undefined;
  const started = Date.now();
  return Promise.all([...runtime.touched].map((shard) => drainOutbox(runtime, shard, started))).then(
    () => undefined,
    (error) => runtime.deps.logger.error('forwarding failed', { error: errorMessage(error) }),
  );
}

/**
 * The request's dependencies, from its bindings. The store hook sends a new postback's copies
 * right after its answer (waitUntil) instead of at the next cron, when the settings the ingest just
 * read name any destination: no further round trip before answering.
 */
async function requestDeps(env: WorkerEnv, ctx: ExecutionContext): Promise<AppDeps> {
  const runtime = await createWorkerRuntime(env, undefined, (work) => ctx.waitUntil(work));
  return {
    ...runtime.deps,
    afterStore: () => {
      const forwarding = forwardStored(runtime);
      if (forwarding) ctx.waitUntil(forwarding);
    },
  };
}

/**
 * The shards one cron run serves: all of them up to `CRON_BUDGET.shardsPerRun`, else that many in
 * turn (by the minute), so that a run stays within the queries a Worker invocation may make.
 */
export function cronShards<T>(all: readonly T[], scheduledMs: number): T[] {
  if (all.length <= CRON_BUDGET.shardsPerRun) return [...all];
  const start = (Math.floor(scheduledMs / 60_000) * CRON_BUDGET.shardsPerRun) % all.length;
  return Array.from({ length: CRON_BUDGET.shardsPerRun }, (_, i) => all[(start + i) % all.length]!);
}

// The app is built once per isolate (routes, schemas, the OpenAPI document); what a request needs
// from its bindings is built for it and handed over on the context.
const app = createApp<RequestBindings>((bindings) => bindings.requestDeps);

interface RequestBindings {
  requestDeps: AppDeps;
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    return app.fetch(request, { requestDeps: await requestDeps(env, ctx) } satisfies RequestBindings, ctx);
  },

  /**
   * Queue mode's consumer: each message's postback stored as ingest would have stored it. Storing is
   * idempotent (a body or dedupe key already kept is a duplicate, counted nothing), so a message
   * delivered again, or out of order, changes nothing. A message whose write fails is retried;
   * after max_retries the queue moves it to its dead-letter queue.
   */
  async queue(batch: MessageBatch<unknown>, env: WorkerEnv): Promise<void> {
    const runtime = await createWorkerRuntime(env);
    const { writer, deps } = runtime;
    // The dead-letter queue's messages are kept for admins (GET /v1/queue/dead-letters), not written.
    if (batch.queue === DEAD_LETTER_QUEUE) {
      const now = deps.now();
      const letters = batch.messages.map((m) => ({ messageId: m.id, body: JSON.stringify(m.body), attempts: m.attempts, receivedAt: now }));
      await writer.run((tx) => tx.batch(letters.length ? [keepDeadLetters(tx.db, letters)] : []));
      batch.ackAll();
      return;
    }
    const { settled, storedOn } = await consumeBatch(
      batch.messages.map((m) => m.body),
      deps,
    );
    for (const [i, message] of batch.messages.entries()) {
      const error = settled[i];
      if (error === undefined) {
        message.ack();
        continue;
      }
      deps.logger.warn('queued message not written; retrying', { queue: batch.queue, message: message.id, attempts: message.attempts, error: errorMessage(error) });
      message.retry();
    }
    for (const shard of storedOn) runtime.touched.add(shard);
    await forwardStored(runtime);
  },

  async scheduled(controller: ScheduledController, env: WorkerEnv): Promise<void> {
    const started = Date.now();
    const runtime = await createWorkerRuntime(env);
    const { db, shards, config, deps } = runtime;
    const log = (task: string) => (error: unknown) => deps.logger.error(`${task} failed`, { error: errorMessage(error) });
    const sharded = shards.all.some((s) => s.db !== db);
    // Moves copying an app hold back its re-derives and their shards' retention until their switch.
    const copying = sharded ? await copyingMoves(db).catch((error: unknown) => log('moves')(error)) : undefined;
    if (sharded && !copying) return;
    const waiting = copying?.apps ?? new Set<number>();
    // Settings changes queue their re-derives in DB; with shards bound, each goes to its app's shard.
    const dispatched = sharded ? await dispatchJobs(db, shards, deps.now(), waiting).catch(log('dispatch')) : 0;
    const served = cronShards(shards.all, controller.scheduledTime);
    const share = (budget: number) => Math.max(1, Math.floor(budget / served.length));
    const totals = { sent: 0, chunks: 0, pruned: 0 };
    // Independent tasks, and shards: one failing must not starve the others.
    for (const shard of served) {
      const add = (key: keyof typeof totals) => (n: number | undefined) => {
        totals[key] += n ?? 0;
      };
      await drainOutbox(runtime, shard, started, share(CRON_BUDGET.sendRounds)).then(add('sent'), log(`forwarding (shard ${shard.index})`));
      await runPendingJobs(shard.db, shard.writer, config.installModel, deps.now, CRON_BUDGET.jobChunkSize, share(CRON_BUDGET.jobChunks), waiting).then(
        add('chunks'),
        log(`maintenance (shard ${shard.index})`),
      );
      if (copying?.shards.has(shard.index)) continue;
      await pruneExpired(
        shard.writer,
        { unverifiedDays: config.retentionDays, verifiedDays: config.retentionVerifiedDays },
        deps.now(),
        CRON_BUDGET.pruneChunkSize,
        share(CRON_BUDGET.pruneChunks),
      ).then(add('pruned'), log(`retention (shard ${shard.index})`));
    }
    const moveSlices = sharded
      ? await advanceMoves(
          { settingsDb: db, shards, now: deps.now, writeHeld: async (bodies) => (await consumeBatch(bodies, deps)).settled },
          { slices: CRON_BUDGET.moveSlices, until: started + CRON_BUDGET.wallMs },
        ).catch(log('moves'))
      : 0;
    deps.logger.info('cron', { ...totals, dispatched, moveSlices, shards: served.map((s) => s.index), ms: Date.now() - started });
  },
} satisfies ExportedHandler<WorkerEnv>;
