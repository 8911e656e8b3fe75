// The delivery loop: claim due outbox rows, send each copy with a timeout, record what happened,
// schedule a retry or dead-letter it. Uses fetch only, so it runs on Node and on Workers.
import type { Db } from '../db/db.js';
import { getDestination } from '../db/destinations.js';
import { type AttemptResult, claimDue, settleAttempt } from '../db/outbox.js';
import { postbackById } from '../db/postbacks.js';
import type { DeliveryRow, DestinationRow } from '../db/schema.js';
import type { Writer } from '../db/store.js';
import { maskUrlPassword } from './destination-input.js';
import { buildRequest } from './request.js';
import { isRetryableStatus, nextDelayMs, parseRetryAfter } from './retry.js';

export interface SenderDeps {
  db: Db;
  writer: Writer;
  fetch: typeof fetch;
  now: () => Date;
  random?: () => number;
}

// A claim outlives the longest destination timeout, so a slow send is never taken twice.
const LEASE_MARGIN_MS = 5_000;

/** `running`: the destinations as read when the delivery was claimed (it was claimed as theirs). */
async function attempt(deps: SenderDeps, delivery: DeliveryRow, running: Map<number, DestinationRow>): Promise<AttemptResult> {
  const destination = running.get(delivery.destinationId) ?? (await getDestination(deps.db, delivery.destinationId));
  const postback = await postbackById(deps.db, delivery.postbackId);
  const started = deps.now();
  const fail = (status: number | null, error: string, retryable: boolean, retryAfterMs?: number): AttemptResult => {
    const delay = retryable && destination ? nextDelayMs(delivery.attempts + 1, destination.retry, deps.random, retryAfterMs) : undefined;
    return {
      state: delay === undefined ? 'dead' : 'pending',
      status,
      error,
      latencyMs: deps.now().getTime() - started.getTime(),
      nextAttemptAt: new Date(deps.now().getTime() + (delay ?? 0)),
    };
  };
  if (!destination || !postback) return fail(null, 'the destination or postback no longer exists', false);

  const request = await buildRequest(destination, postback, started);
  try {
    const response = await deps.fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(destination.timeoutMs),
      // A partner's URL is configured, not discovered: a redirect is a mistake to surface.
      redirect: 'manual',
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.status >= 200 && response.status < 300) {
      return { state: 'delivered', status: response.status, error: null, latencyMs: deps.now().getTime() - started.getTime(), nextAttemptAt: deps.now() };
    }
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'), deps.now().getTime());
    return fail(response.status, `HTTP ${response.status}`, isRetryableStatus(response.status), retryAfter);
  } catch (error) {
    return fail(null, describeFailure(error, destination.timeoutMs), true);
  }
}

/**
 * fetch reports a refused connection as "fetch failed" with the reason in `cause`. Messages may
 * quote the URL, so any password in it is masked before the text is kept.
 */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return maskUrlPassword(`network error: ${cause instanceof Error ? cause.message : String(cause)}`);
}

/** Sends one batch of due deliveries; resolves with how many were attempted. */
export async function sendDue(deps: SenderDeps, limit = 32): Promise<number> {
  const now = deps.now();
  const { claimed, running } = await deps.writer.run(async (tx) => {
    const { destinations } = await tx.settings();
    const leaseMs = Math.max(0, ...destinations.map((d) => d.timeoutMs)) + LEASE_MARGIN_MS;
    return { claimed: await claimDue(tx.db, now, leaseMs, limit), running: new Map(destinations.map((d) => [d.id, d])) };
  });
  await Promise.all(
    claimed.map(async (delivery) => {
      const result = await attempt(deps, delivery, running);
      await deps.writer.run((tx) => settleAttempt(tx.db, delivery, result, deps.now()));
    }),
  );
  return claimed.length;
}
