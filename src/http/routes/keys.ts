// API keys: list (never their secrets), create (the secret shown once), revoke.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { createApiKey, deleteApiKey, getApiKey, listApiKeys, publicKey } from '../../db/api-keys.js';
import { insideScope, requireRole } from '../auth.js';
import type { AppEnv } from '../deps.js';
import { NotFoundError, ScopeError } from '../errors.js';
import { anyJson, bearer, errorResponses, IdParams, jsonBody, noContent, servedTwice, strictJson } from '../openapi.js';

const KeyInput = z
  .object({
    name: z.string().min(1).max(200),
    role: z.enum(['analyst', 'admin']),
    // An empty list is refused rather than read as "no scope": a script whose variable came out
    // empty must never hand out a key that reads everything. Omit the field (or null) for that.
    app_ids: z.array(z.number().int().min(0)).min(1, 'an empty scope is refused: list at least one app id, or omit app_ids for a key that reads every app').max(1000).nullish(),
    ad_network_ids: z
      .array(z.string().min(1))
      .min(1, 'an empty scope is refused: list at least one ad network id, or omit ad_network_ids for a key that reads every network')
      .max(1000)
      .nullish(),
  })
  .strict()
  .openapi('ApiKeyInput');

export function keyRoutes(app: OpenAPIHono<AppEnv>): void {
  servedTwice(
    app,
    createRoute({
      method: 'get',
      path: '/v1/keys',
      summary: 'API keys (never their secrets)',
      security: bearer,
      middleware: [requireRole('admin')] as const,
      responses: { 200: anyJson('Keys'), ...errorResponses(401, 403) },
    }),
    async (c) => c.json({ keys: (await listApiKeys(c.get('deps').db)).filter((k) => insideScope(c.get('principal'), k)).map(publicKey) }, 200),
  );

  servedTwice(
    app,
    createRoute({
      method: 'post',
      path: '/v1/keys',
      summary: 'Create a key; the secret is in this response only',
      security: bearer,
      middleware: [requireRole('admin'), strictJson] as const,
      request: jsonBody(KeyInput),
      responses: { 201: anyJson('The key and its secret'), ...errorResponses(400, 401, 403, 413) },
    }),
    async (c) => {
      const input = c.req.valid('json');
      // A scoped admin can only hand out keys within its own scope.
      if (!insideScope(c.get('principal'), { appIds: input.app_ids ?? null, adNetworkIds: input.ad_network_ids ?? null })) {
        throw new ScopeError('a scoped key can only create keys within its own scope');
      }
      const deps = c.get('deps');
      const { key, secret } = await deps.writer.run((tx) => createApiKey(tx.db, input, deps.now()));
      return c.json({ ...publicKey(key), secret }, 201);
    },
  );

  servedTwice(
    app,
    createRoute({
      method: 'delete',
      path: '/v1/keys/{id}',
      summary: 'Revoke a key',
      security: bearer,
      middleware: [requireRole('admin')] as const,
      request: { params: IdParams },
      responses: { 204: noContent('Revoked'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const principal = c.get('principal');
      const deleted = await c.get('deps').writer.run(async (tx) => {
        const key = await getApiKey(tx.db, id);
        return key !== undefined && insideScope(principal, key) && deleteApiKey(tx.db, id);
      });
      if (!deleted) throw new NotFoundError(`key ${id}`);
      return c.body(null, 204);
    },
  );
}
