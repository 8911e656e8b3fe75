// Relay keys: a network relaying an advertiser's developer copies presents one at the ingest paths
// (docs/discrepancies.md, "Copy reconciliation"). Admin only; the secret is shown once.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { createRelayKey, deleteRelayKey, listRelayKeys, publicRelayKey, relayKeyNamed } from '../../db/relay-keys.js';
import type { RelayKeyRow } from '../../db/schema.js';
import { FieldError } from '../../model/field-error.js';
import { insideScope, requireRole } from '../auth.js';
import type { AppEnv, Principal } from '../deps.js';
import { NotFoundError, ScopeError } from '../errors.js';
import { anyJson, bearer, errorResponses, IdParams, jsonBody, noContent, strictJson } from '../openapi.js';

const RelayKeyInput = z
  .object({
    // The name is the channel's (`relay:<name>`) in reports, CSV cells and URLs: kept plain.
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'name must be 1 to 64 lower-case letters, digits, "_", "." or "-", starting with a letter or digit'),
    ad_network_id: z.string().min(1).max(200).nullish(),
  })
  .strict()
  .openapi('RelayKeyInput');

/** A relay key reads as its network's: a key without one is for admins of every network. */
const visible = (principal: Principal, key: Pick<RelayKeyRow, 'adNetworkId'>) => insideScope(principal, { appIds: null, adNetworkIds: key.adNetworkId ? [key.adNetworkId] : null });

export function relayKeyRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/relay-keys',
      summary: 'Relay keys (never their secrets)',
      security: bearer,
      middleware: [requireRole('admin')] as const,
      responses: { 200: anyJson('Relay keys'), ...errorResponses(401, 403) },
    }),
    async (c) => c.json({ relay_keys: (await listRelayKeys(c.get('deps').db)).filter((k) => visible(c.get('principal'), k)).map(publicRelayKey) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/relay-keys',
      summary: 'Create a relay key; the secret `key` is in this response only',
      security: bearer,
      middleware: [requireRole('admin'), strictJson] as const,
      request: jsonBody(RelayKeyInput),
      responses: { 201: anyJson('The relay key and its secret'), ...errorResponses(400, 401, 403, 413) },
    }),
    async (c) => {
      const input = c.req.valid('json');
      if (!visible(c.get('principal'), { adNetworkId: input.ad_network_id ?? null })) {
        throw new ScopeError('a scoped key can only create relay keys bound to an ad network within its scope');
      }
      const deps = c.get('deps');
      const created = await deps.writer.run(async (tx) => ((await relayKeyNamed(tx.db, input.name)) ? undefined : createRelayKey(tx.db, input, deps.now())));
      if (!created) throw new FieldError('name', `a relay key named ${JSON.stringify(input.name)} exists: names are channels and stay unique`);
      return c.json({ ...publicRelayKey(created.key), key: created.secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/relay-keys/{id}',
      summary: 'Revoke a relay key: copies it relays are refused from now on; those it relayed keep their channel',
      security: bearer,
      middleware: [requireRole('admin')] as const,
      request: { params: IdParams },
      responses: { 204: noContent('Revoked'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const principal = c.get('principal');
      const deleted = await c.get('deps').writer.run(async (tx) => {
        const key = (await listRelayKeys(tx.db)).find((k) => k.id === id);
        return key !== undefined && visible(principal, key) && deleteRelayKey(tx.db, id);
      });
      if (!deleted) throw new NotFoundError(`relay key ${id}`);
      return c.body(null, 204);
    },
  );
}
