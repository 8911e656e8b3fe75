// When to try a delivery again: exponential backoff with a cap and full jitter, per destination.
import type { RetryPolicy } from '../model/destination.js';

/** Retry-After is honoured up to this; a partner cannot park a delivery for days. */
const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Delay before attempt `attempt + 1` after `attempt` failed (attempt counts from 1), or undefined
 * when the attempts are used up. The default schedule (60 s × 3ⁿ, capped at 1 h, 30 attempts) runs
 * about 1 min, 3 min, 9 min, 27 min, 1 h, then hourly: roughly a day in all. Jitter spreads the
 * retries of a partner's outage over the second half of each delay, so they do not return as one wave.
 */
export function nextDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random, retryAfterMs?: number): number | undefined {
  if (attempt >= policy.max_attempts) return undefined;
  const base = Math.min(policy.first_delay_s * policy.factor ** (attempt - 1), policy.cap_s) * 1000;
  const jittered = base / 2 + random() * (base / 2);
  return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

/** Network errors, timeouts, 408, 425, 429 and 5xx may succeed later; other 4xx never will. */
export const isRetryableStatus = (status: number) => status === 408 || status === 425 || status === 429 || status >= 500;

/** Retry-After as seconds or an HTTP date, in milliseconds from `now`. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
