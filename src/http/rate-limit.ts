// The per-address rate limit of the open paths (Apple's ingest, `/c`, `/i`, `/mmp`), when one is
// configured: a token bucket per client address, answered 429 with Retry-After when it is empty.
import type { Context, Next } from 'hono';
import { clientAddress } from './client-guard.js';
import type { AppEnv } from './deps.js';
import { problem } from './problem.js';

/** `onRefused` counts the refusal in the path's own metric; `what` names what was sent too often. */
export const rateLimit = (what: string, onRefused?: (c: Context<AppEnv>) => void) => async (c: Context<AppEnv>, next: Next) => {
  const g = c.get('deps').guard;
  if (!g?.limiter) return next();
  const address = clientAddress(c.req.raw.headers, g.socketAddress?.(c), g.trustedHeader);
  const wait = address ? g.limiter.take(address, Date.now()) : undefined;
  if (wait === undefined) return next();
  onRefused?.(c);
  return problem(c, 429, 'rate_limited', 'Too Many Requests', { detail: `too many ${what} from this address; retry later` }, { 'Retry-After': String(wait) });
};
