// The Cloudflare Workers entry: the same Hono app as on Node over D1, a Cron Trigger that sends
// due copies to partners, runs re-derive/rebuild chunks and prunes expired rows, and in queue mode
// the consumer that writes the postbacks the edge queued.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { keepDeadLetters } from '../db/dead-letters.js';
import { pruneExpired } from '../db/retention.js';
import { sendDue } from '../forward/sender.js';
import { createApp } from '../http/app.js';
import type { AppDeps } from '../http/deps.js';
import { consumeBatch } from '../ingest/consume.js';
import { runPendingJobs } from '../maintenance/jobs.js';
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
};

/** Sends due deliveries, a few rounds at most; resolves with how many were attempted. */
async function drainOutbox({ db, writer, deps }: WorkerRuntime, started: number): Promise<number> {
  let attempted = 0;
  for (let round = 0; round < CRON_BUDGET.sendRounds && Date.now() - started < CRON_BUDGET.wallMs; round++) {
    const sent = await sendDue({ db, writer, fetch: (input, init) => fetch(input, init), now: deps.now }, CRON_BUDGET.deliveriesPerRound);
    attempted += sent;
    if (sent < CRON_BUDGET.deliveriesPerRound) break;
  }
  return attempted;
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
      if ((runtime.unit.loadedSettings?.destinations.length ?? 0) === 0) return;
      ctx.waitUntil(drainOutbox(runtime, Date.now()).catch((error) => runtime.deps.logger.error('forwarding failed', { error: errorMessage(error) })));
    },
  };
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
    const { settled, stored } = await consumeBatch(
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
    if (stored > 0 && (runtime.unit.loadedSettings?.destinations.length ?? 0) > 0)
      await drainOutbox(runtime, Date.now()).catch((error) => deps.logger.error('forwarding failed', { error: errorMessage(error) }));
  },

  async scheduled(_controller: ScheduledController, env: WorkerEnv): Promise<void> {
    const started = Date.now();
    const runtime = await createWorkerRuntime(env);
    const { db, writer, config, deps } = runtime;
    const log = (task: string) => (error: unknown) => deps.logger.error(`${task} failed`, { error: errorMessage(error) });
    // Independent tasks: one failing must not starve the others.
    const sent = await drainOutbox(runtime, started).catch(log('forwarding'));
    const chunks = await runPendingJobs(db, writer, config.installModel, deps.now, CRON_BUDGET.jobChunkSize, CRON_BUDGET.jobChunks).catch(log('maintenance'));
    const pruned = await pruneExpired(
      writer,
      { unverifiedDays: config.retentionDays, verifiedDays: config.retentionVerifiedDays },
      deps.now(),
      CRON_BUDGET.pruneChunkSize,
      CRON_BUDGET.pruneChunks,
    ).catch(log('retention'));
    deps.logger.info('cron', { sent, chunks, pruned, ms: Date.now() - started });
  },
} satisfies ExportedHandler<WorkerEnv>;
