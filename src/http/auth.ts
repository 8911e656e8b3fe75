// Bearer-key authentication for the analyst and admin routes. Ingest stays open: Apple's
// devices cannot authenticate.
import type { Context, MiddlewareHandler } from 'hono';
import { findApiKey, type Role } from '../db/api-keys.js';
import type { Db } from '../db/db.js';
import { sha256Hex } from '../hash.js';
import { problem } from './problem.js';

export interface Principal {
  role: Role;
  keyId: number | null;
  /** Mandatory filters; null means unrestricted. */
  appIds: number[] | null;
  adNetworkIds: string[] | null;
}

/** Request-scoped values: who is asking, and for ingest what was answered (for the request log). */
export type AuthEnv = { Variables: { principal: Principal; receipt: { outcome: string; signature: string } } };

/** Compares two strings in time that does not depend on where they differ. */
function constantTimeEqual(a: string, b: string): boolean {
  const [x, y] = [sha256Hex(a), sha256Hex(b)];
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x.charCodeAt(i) ^ y.charCodeAt(i);
  return diff === 0;
}

const RANK: Record<Role, number> = { analyst: 1, admin: 2 };

/**
 * `unscoped`: the route acts on every app and network (forwarding, metrics), so a key limited to
 * some of them may not use it even with the admin role.
 */
export function requireRole(role: Role, deps: { db: Db; adminKey: string | undefined }, options: { unscoped?: boolean } = {}): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const unauthorized = (detail: string) =>
      problem(c as unknown as Context, 401, 'unauthorized', 'Unauthorized', { detail }, { 'WWW-Authenticate': 'Bearer realm="skanpost"' });
    if (!match) return unauthorized('send an API key as Authorization: Bearer <key>');
    const secret = match[1]!;
    let principal: Principal | undefined;
    if (deps.adminKey && constantTimeEqual(secret, deps.adminKey)) {
      principal = { role: 'admin', keyId: null, appIds: null, adNetworkIds: null };
    } else {
      const key = await findApiKey(deps.db, secret);
      if (key) principal = { role: key.role, keyId: key.id, appIds: key.appIds, adNetworkIds: key.adNetworkIds };
    }
    if (!principal) return unauthorized('unknown API key');
    if (RANK[principal.role] < RANK[role]) {
      return problem(c as unknown as Context, 403, 'forbidden', 'Forbidden', { detail: `this route needs the ${role} role; the key has ${principal.role}` });
    }
    if (options.unscoped && (principal.appIds || principal.adNetworkIds)) {
      return problem(c as unknown as Context, 403, 'out_of_scope', 'Forbidden', { detail: 'this route acts on every app and network: it needs a key without a scope' });
    }
    c.set('principal', principal);
    await next();
  };
}

export class ScopeError extends Error {}

/** Narrows requested values to a key's scope; asking outside it is refused, not silently emptied. */
export function withinScope<T extends string | number>(name: string, requested: Array<T | null> | undefined, scope: T[] | null): Array<T | null> | undefined {
  if (!scope) return requested;
  if (!requested) return [...scope];
  const outside = requested.filter((v) => v === null || !scope.includes(v as T));
  if (outside.length) throw new ScopeError(`this key may not read ${name} ${outside.map((v) => JSON.stringify(v)).join(', ')}`);
  return requested;
}
