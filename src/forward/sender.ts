// The delivery loop: claim due outbox rows, send each copy with a timeout, record what happened,
// schedule a retry or dead-letter it. Sends with fetch, so it runs on Node and on Workers; a runtime
// with a cheaper client passes its own `send` (Node: node:http, BENCHMARKS.md).
import type { Db } from '../db/db.js';
import { getDestination } from '../db/destinations.js';
import { clickByRowId, findLinkForClick, mmpPostbackById } from '../db/mmp.js';
import { type AttemptResult, claimDue, runningDestinations, settleAttempt } from '../db/outbox.js';
import { postbackById } from '../db/postbacks.js';
import type { DeliveryRow } from '../db/schema.js';
import type { Settings } from '../db/settings-snapshot.js';
import type { Writer } from '../db/store.js';
import { renderLinkUrl } from '../mmp/links.js';
import { RetryPolicy } from '../model/destination.js';
import { maskUrlPassword } from './destination-input.js';
import { buildRequest, impressionRequest, type OutgoingRequest } from './request.js';
import { isRetryableStatus, nextDelayMs, parseRetryAfter } from './retry.js';

export interface SenderDeps {
  /** The shard whose outbox is sent (its postbacks, clicks and deliveries). */
  db: Db;
  writer: Writer;
  /** `DB`, where destinations and links are (the same database but on sharded Workers). */
  settingsDb?: Db;
  fetch: typeof fetch;
  /** Sends a request instead of `fetch`, where the runtime has a cheaper client; `fetch` stays the fallback. */
  send?: Send;
  now: () => Date;
  random?: () => number;
}

/** What a partner answered: all a delivery records of it. */
interface PartnerAnswer {
  status: number;
  retryAfter: string | null;
}

/**
 * Sends one request, with no redirects followed (a partner's URL is configured, not discovered: a
 * redirect is a mistake to surface). Rejects with an error named `TimeoutError` after `timeoutMs`,
 * and with the network's error (or one carrying it as `cause`) when there is no answer.
 */
export type Send = (request: OutgoingRequest, timeoutMs: number) => Promise<PartnerAnswer>;

const sendWithFetch =
  (fetchFn: typeof fetch): Send =>
  async (request, timeoutMs) => {
    const response = await fetchFn(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    await response.body?.cancel().catch(() => undefined);
    return { status: response.status, retryAfter: response.headers.get('retry-after') };
  };

// A claim outlives the longest destination timeout, so a slow send is never taken twice.
const LEASE_MARGIN_MS = 5_000;
// Impressions are announced to the MMP with the default schedule and timeout of a destination.
const IMPRESSION_RETRY = RetryPolicy.parse({});
const IMPRESSION_TIMEOUT_MS = 10_000;

interface Target {
  request: OutgoingRequest;
  retry: RetryPolicy;
  timeoutMs: number;
}

/**
 * What a delivery sends: one of Apple's postbacks or an MMP postback to its destination, or an
 * impression to the MMP of its link. Undefined when what it was for no longer exists.
 */
async function targetOf(deps: SenderDeps, delivery: DeliveryRow, settings: Settings, now: Date): Promise<Target | undefined> {
  if (delivery.clickRowId !== null) {
    const click = await clickByRowId(deps.db, delivery.clickRowId);
    const found = click && (await findLinkForClick(deps.settingsDb ?? deps.db, click.linkId));
    if (!click || !found?.link.impressionUrl) return undefined;
    const url = renderLinkUrl(found.link.impressionUrl, found.link, found.campaignName, { clickId: click.clickId, at: click.clickedAt, subs: click });
    return { request: impressionRequest(url), retry: IMPRESSION_RETRY, timeoutMs: IMPRESSION_TIMEOUT_MS };
  }
  if (delivery.destinationId === null) return undefined;
  // The destinations as read when the delivery was claimed (it was claimed as theirs).
  const destination = settings.destinations.find((d) => d.id === delivery.destinationId) ?? (await getDestination(deps.settingsDb ?? deps.db, delivery.destinationId));
  if (!destination) return undefined;
  const subject =
    delivery.postbackId !== null
      ? await postbackById(deps.db, delivery.postbackId).then((row) => row && ({ kind: 'postback', row } as const))
      : delivery.mmpPostbackId !== null
        ? await mmpPostbackById(deps.db, delivery.mmpPostbackId).then((row) => row && ({ kind: 'mmp', row } as const))
        : undefined;
  if (!subject) return undefined;
  return { request: await buildRequest(destination, subject, now), retry: destination.retry, timeoutMs: destination.timeoutMs };
}

async function attempt(deps: SenderDeps, send: Send, delivery: DeliveryRow, settings: Settings): Promise<AttemptResult> {
  const started = deps.now();
  const target = await targetOf(deps, delivery, settings, started);
  const fail = (status: number | null, error: string, retryable: boolean, retryAfterMs?: number): AttemptResult => {
    const delay = retryable && target ? nextDelayMs(delivery.attempts + 1, target.retry, deps.random, retryAfterMs) : undefined;
    return {
      state: delay === undefined ? 'dead' : 'pending',
      status,
      error,
      latencyMs: deps.now().getTime() - started.getTime(),
      nextAttemptAt: new Date(deps.now().getTime() + (delay ?? 0)),
    };
  };
  if (!target) return fail(null, 'what this delivery was for (destination, postback, impression or link) no longer exists', false);

  const { request, timeoutMs } = target;
  try {
    const answer = await send(request, timeoutMs);
    if (answer.status >= 200 && answer.status < 300) {
      return { state: 'delivered', status: answer.status, error: null, latencyMs: deps.now().getTime() - started.getTime(), nextAttemptAt: deps.now() };
    }
    const retryAfter = parseRetryAfter(answer.retryAfter, deps.now().getTime());
    return fail(answer.status, `HTTP ${answer.status}`, isRetryableStatus(answer.status), retryAfter);
  } catch (error) {
    return fail(null, describeFailure(error, timeoutMs), true);
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
  const running = await runningDestinations(deps.settingsDb ?? deps.db);
  const { claimed, settings } = await deps.writer.run(async (tx) => {
    const settings = await tx.settings();
    const leaseMs = Math.max(IMPRESSION_TIMEOUT_MS, ...settings.destinations.map((d) => d.timeoutMs)) + LEASE_MARGIN_MS;
    return { claimed: await claimDue(tx.db, now, leaseMs, limit, running), settings };
  });
  const send = deps.send ?? sendWithFetch(deps.fetch);
  await Promise.all(
    claimed.map(async (delivery) => {
      const result = await attempt(deps, send, delivery, settings);
      await deps.writer.run((tx) => settleAttempt(tx.db, delivery, result, deps.now()));
    }),
  );
  return claimed.length;
}
