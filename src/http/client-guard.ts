// Who may post and how often: an optional CIDR allowlist and an optional per-address token
// bucket on the ingest paths. The address is never stored; buckets live in memory only (per
// process on Node, per isolate on Workers).
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { parseCidrList, type Range } from '../model/cidr.js';

export class GuardConfigError extends Error {}

/** Parses `SKANPOST_ALLOWLIST`; a wrong entry stops the start with its name. */
export function parseAllowlist(text: string): Range[] {
  const { ranges, bad } = parseCidrList(text);
  if (bad !== undefined) throw new GuardConfigError(`SKANPOST_ALLOWLIST: ${JSON.stringify(bad)} is not an address or CIDR range`);
  return ranges;
}

export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly maxAddresses = 100_000,
  ) {}

  /** Takes a token for `address`; returns the seconds to wait when there is none. */
  take(address: string, now: number): number | undefined {
    const bucket = this.buckets.get(address) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.delete(address); // most recently seen last, so the oldest go first when full
    if (this.buckets.size >= this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(address, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.ceil((1 - bucket.tokens) / this.perSecond);
  }
}

/**
 * The client address: the socket's, or, behind a proxy the operator trusts, the header it sets.
 * For X-Forwarded-For that is the right-most entry: the one the trusted proxy appended.
 */
export function clientAddress(headers: Headers, socketAddress: string | undefined, trustedHeader: string | undefined): string | undefined {
  if (!trustedHeader) return socketAddress;
  const value = headers.get(trustedHeader);
  if (!value) return undefined;
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return trustedHeader.toLowerCase() === 'x-forwarded-for' ? entries.at(-1) : entries[0];
}

/**
 * A body size limit for the open paths. hono's bodyLimit reads `c.req.raw.body`, and on Node that
 * makes @hono/node-server build a whole fetch Request (a web stream, an AbortController) per
 * request. A declared length is enforced by the HTTP parser itself, so only bodies without one are
 * counted as they stream.
 */
export function limitBody(maxSize: number, tooLarge: (c: Context) => Response): MiddlewareHandler {
  const streamed = bodyLimit({ maxSize, onError: tooLarge });
  return async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared === undefined || c.req.header('transfer-encoding') !== undefined) return streamed(c, next);
    if (Number(declared) > maxSize) return tooLarge(c);
    return next();
  };
}
