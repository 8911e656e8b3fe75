// Bearer-key authentication for the analyst and admin routes, and the scope rules every read
// follows. Ingest stays open: Apple's devices cannot authenticate.
import type { MiddlewareHandler } from 'hono';
import { findApiKey, type Role } from '../db/api-keys.js';
import { sha256Hex } from '../hash.js';
import type { AppDeps, AppEnv, Principal } from './deps.js';
import { ScopeError } from './errors.js';
import { problem } from './problem.js';

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
export function requireRole(role: Role, options: { unscoped?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // Only the dashboard's routes set a principal before this (from the session cookie): `/v1` is Bearer-only.
    let principal: Principal | undefined = c.get('principal');
    if (!principal) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
      const unauthorized = (detail: string) => problem(c, 401, 'unauthorized', 'Unauthorized', { detail }, { 'WWW-Authenticate': 'Bearer realm="skanpost"' });
      if (!match) return unauthorized('send an API key as Authorization: Bearer <key>');
      principal = await principalOf(c.get('deps'), match[1]!);
      if (!principal) return unauthorized('unknown API key');
    }
    if (RANK[principal.role] < RANK[role]) {
      return problem(c, 403, 'forbidden', 'Forbidden', { detail: `this route needs the ${role} role; the key has ${principal.role}` });
    }
    if (options.unscoped && (principal.appIds || principal.adNetworkIds)) {
      return problem(c, 403, 'out_of_scope', 'Forbidden', { detail: 'this route acts on every app and network: it needs a key without a scope' });
    }
    c.set('principal', principal);
    await next();
  };
}

/** Who an API key is: the bootstrap admin key, or a stored key with its role and scope. */
export async function principalOf(deps: Pick<AppDeps, 'adminKey' | 'db'>, secret: string): Promise<Principal | undefined> {
  if (deps.adminKey && constantTimeEqual(secret, deps.adminKey)) return { role: 'admin', keyId: null, appIds: null, adNetworkIds: null };
  const key = await findApiKey(deps.db, secret);
  return key ? { role: key.role, keyId: key.id, appIds: key.appIds, adNetworkIds: key.adNetworkIds } : undefined;
}

/** Narrows requested values to a key's scope; asking outside it is refused, not silently emptied. */
export function withinScope<T extends string | number>(name: string, requested: Array<T | null> | undefined, scope: T[] | null): Array<T | null> | undefined {
  if (!scope) return requested;
  if (!requested) return [...scope];
  const outside = requested.filter((v) => v === null || !scope.includes(v as T));
  if (outside.length) throw new ScopeError(`this key may not read ${name} ${outside.map((v) => JSON.stringify(v)).join(', ')}`);
  return requested;
}

/**
 * Whether something that spans these apps and networks (null: all of them) lies inside the
 * principal's scope: a campaign mapping, or a key to see, create or revoke.
 */
export function insideScope(principal: Principal, target: { appIds: number[] | null; adNetworkIds: string[] | null }): boolean {
  const inside = <T>(outer: T[] | null, inner: T[] | null) => !outer || (inner !== null && inner.length > 0 && inner.every((v) => outer.includes(v)));
  return inside(principal.appIds, target.appIds) && inside(principal.adNetworkIds, target.adNetworkIds);
}
