// Conversion-value schemas per app, campaign-name mappings, and API keys.
import type { Context } from 'hono';
import { z } from '@hono/zod-openapi';
import { ConversionSchema } from '../../model/conversion-schema.js';
import { createApiKey, deleteApiKey, getApiKey, listApiKeys, publicKey } from '../../db/api-keys.js';
import { addCampaign, addSchema, deleteCampaign, deleteSchema, getCampaign, getSchema, listCampaigns, listSchemas, type CampaignRow, type SchemaRow } from '../../db/settings.js';
import { requireRole, type Principal } from '../auth.js';
import { problem } from '../problem.js';
import { bearer, errorResponses, intParam, invalidParameter, readJson, type V1App, type V1Deps } from './common.js';

const ctx = (c: unknown) => c as Context;

const schemaView = (s: SchemaRow) => ({ app_id: s.appId, version: s.version, effective_from: s.effectiveFrom.toISOString(), created_at: s.createdAt.toISOString(), definition: s.definition });
const campaignView = (m: CampaignRow) => ({
  id: m.id,
  ad_network_id: m.adNetworkId,
  app_id: m.appId,
  source_identifier: m.sourceIdentifier,
  name: m.name,
  network_campaign_id: m.networkCampaignId,
  effective_from: m.effectiveFrom?.toISOString() ?? null,
  effective_to: m.effectiveTo?.toISOString() ?? null,
  created_at: m.createdAt.toISOString(),
});

export const CampaignInput = z
  .object({
    ad_network_id: z.string().min(1).max(200),
    app_id: z.number().int().min(0),
    source_identifier: z.string().regex(/^\d{2,4}$/, 'a source identifier of 2, 3 or 4 digits'),
    name: z.string().min(1).max(200),
    network_campaign_id: z.string().max(200).nullish(),
    effective_from: z.iso.datetime({ offset: true }).nullish(),
    effective_to: z.iso.datetime({ offset: true }).nullish(),
  })
  .strict()
  .refine((m) => !m.effective_from || !m.effective_to || m.effective_from < m.effective_to, { message: 'effective_to must be after effective_from', path: ['effective_to'] })
  .openapi('CampaignInput');

export const KeyInput = z
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

const appIdParam = z.object({ appId: z.string().openapi({ description: "the app's App Store id (app-id / advertised-item-identifier)" }) });
const json = (description: string, schema: z.ZodType = z.object({}).passthrough()) => ({ description, content: { 'application/json': { schema } } });

function inAppScope(principal: Principal, appId: number) {
  return !principal.appIds || principal.appIds.includes(appId);
}

/**
 * Whether something that spans these apps and networks (null: all of them) lies inside the
 * principal's scope: a campaign mapping, or a key to see, create or revoke.
 */
function insideScope(principal: Principal, target: { appIds: number[] | null; adNetworkIds: string[] | null }) {
  const inside = <T>(outer: T[] | null, inner: T[] | null) => !outer || (inner !== null && inner.length > 0 && inner.every((v) => outer.includes(v)));
  return inside(principal.appIds, target.appIds) && inside(principal.adNetworkIds, target.adNetworkIds);
}

const campaignScope = (m: { appId: number; adNetworkId: string }) => ({ appIds: [m.appId], adNetworkIds: [m.adNetworkId] });

export function settingsRoutes(app: V1App, deps: V1Deps): void {
  const analyst = requireRole('analyst', deps);
  const admin = requireRole('admin', deps);
  const notFound = (c: Context, what: string) => problem(c, 404, 'not_found', 'Not Found', { detail: `no ${what}` });
  const scopeRefused = (c: Context, appId: number) => problem(c, 403, 'out_of_scope', 'Forbidden', { detail: `this key may not read app ${appId}` });

  // --- conversion-value schemas
  app.openAPIRegistry.registerPath({ method: 'get', path: '/v1/apps/{appId}/schemas', summary: "An app's conversion-value schema versions", security: bearer, request: { params: appIdParam }, responses: { 200: json('Schema versions, oldest first'), ...errorResponses(401, 403, 404) } });
  app.get('/v1/apps/:appId/schemas', analyst, async (c) => {
    const appId = intParam(ctx(c), 'appId');
    if (appId === undefined) return notFound(ctx(c), `app ${c.req.param('appId')}`);
    if (!inAppScope(c.get('principal'), appId)) return scopeRefused(ctx(c), appId);
    return c.json({ schemas: (await listSchemas(deps.db, appId)).map(schemaView) });
  });

  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/v1/apps/{appId}/schemas',
    summary: 'Add a schema version; postbacks installed from effective_from on are re-decoded in the background',
    security: bearer,
    request: { params: appIdParam, body: { content: { 'application/json': { schema: ConversionSchema } } } },
    responses: { 201: json('The new version'), ...errorResponses(400, 401, 403, 413) },
  });
  app.post('/v1/apps/:appId/schemas', admin, async (c) => {
    const appId = intParam(ctx(c), 'appId');
    if (appId === undefined) return invalidParameter(ctx(c), 'appId', 'appId must be an integer');
    if (!inAppScope(c.get('principal'), appId)) return scopeRefused(ctx(c), appId);
    const body = await readJson(ctx(c), ConversionSchema);
    if (!body.ok) return body.response;
    const row = await deps.writer.run((db) => addSchema(db, appId, body.value, deps.now()));
    return c.json(schemaView(row), 201);
  });

  app.openAPIRegistry.registerPath({ method: 'get', path: '/v1/apps/{appId}/schemas/{version}', summary: 'One schema version', security: bearer, request: { params: appIdParam.extend({ version: z.string() }) }, responses: { 200: json('The version'), ...errorResponses(401, 403, 404) } });
  app.get('/v1/apps/:appId/schemas/:version', analyst, async (c) => {
    const appId = intParam(ctx(c), 'appId');
    const version = intParam(ctx(c), 'version');
    if (appId !== undefined && !inAppScope(c.get('principal'), appId)) return scopeRefused(ctx(c), appId);
    const row = appId !== undefined && version !== undefined ? await getSchema(deps.db, appId, version) : undefined;
    return row ? c.json(schemaView(row)) : notFound(ctx(c), `schema version ${c.req.param('version')} for app ${c.req.param('appId')}`);
  });

  app.openAPIRegistry.registerPath({ method: 'delete', path: '/v1/apps/{appId}/schemas/{version}', summary: 'Delete a schema version; affected postbacks are re-decoded', security: bearer, request: { params: appIdParam.extend({ version: z.string() }) }, responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) } });
  app.delete('/v1/apps/:appId/schemas/:version', admin, async (c) => {
    const appId = intParam(ctx(c), 'appId');
    const version = intParam(ctx(c), 'version');
    if (appId !== undefined && !inAppScope(c.get('principal'), appId)) return scopeRefused(ctx(c), appId);
    const deleted = appId !== undefined && version !== undefined && (await deps.writer.run((db) => deleteSchema(db, appId, version, deps.now())));
    return deleted ? c.body(null, 204) : notFound(ctx(c), `schema version ${c.req.param('version')} for app ${c.req.param('appId')}`);
  });

  // --- campaign-name mappings
  app.openAPIRegistry.registerPath({ method: 'get', path: '/v1/campaigns', summary: 'Campaign-name mappings (within the key scope)', security: bearer, responses: { 200: json('Mappings, newest first'), ...errorResponses(401, 403) } });
  app.get('/v1/campaigns', analyst, async (c) => {
    const p = c.get('principal');
    const rows = await listCampaigns(deps.db, { ...(p.appIds ? { appIds: p.appIds } : {}), ...(p.adNetworkIds ? { adNetworkIds: p.adNetworkIds } : {}) });
    return c.json({ campaigns: rows.map(campaignView) });
  });

  app.openAPIRegistry.registerPath({ method: 'post', path: '/v1/campaigns', summary: 'Name a source identifier (2–4 digits) of an ad network and app, optionally for a period', security: bearer, request: { body: { content: { 'application/json': { schema: CampaignInput } } } }, responses: { 201: json('The mapping'), ...errorResponses(400, 401, 403, 413) } });
  app.post('/v1/campaigns', admin, async (c) => {
    const body = await readJson(ctx(c), CampaignInput);
    if (!body.ok) return body.response;
    if (!insideScope(c.get('principal'), campaignScope({ appId: body.value.app_id, adNetworkId: body.value.ad_network_id }))) {
      return problem(ctx(c), 403, 'out_of_scope', 'Forbidden', { detail: 'this key may not manage that app or ad network' });
    }
    const row = await deps.writer.run((db) => addCampaign(db, body.value, deps.now()));
    return c.json(campaignView(row), 201);
  });

  app.openAPIRegistry.registerPath({ method: 'delete', path: '/v1/campaigns/{id}', summary: 'Delete a mapping', security: bearer, request: { params: z.object({ id: z.string() }) }, responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) } });
  app.delete('/v1/campaigns/:id', admin, async (c) => {
    const id = intParam(ctx(c), 'id');
    const principal = c.get('principal');
    const deleted =
      id !== undefined &&
      (await deps.writer.run(async (db) => {
        const row = await getCampaign(db, id);
        return row !== undefined && insideScope(principal, campaignScope(row)) && deleteCampaign(db, row, deps.now());
      }));
    return deleted ? c.body(null, 204) : notFound(ctx(c), `campaign mapping ${c.req.param('id')}`);
  });

  // --- API keys
  app.openAPIRegistry.registerPath({ method: 'get', path: '/v1/keys', summary: 'API keys (never their secrets)', security: bearer, responses: { 200: json('Keys'), ...errorResponses(401, 403) } });
  app.get('/v1/keys', admin, async (c) => c.json({ keys: (await listApiKeys(deps.db)).filter((k) => insideScope(c.get('principal'), k)).map(publicKey) }));

  app.openAPIRegistry.registerPath({ method: 'post', path: '/v1/keys', summary: 'Create a key; the secret is in this response only', security: bearer, request: { body: { content: { 'application/json': { schema: KeyInput } } } }, responses: { 201: json('The key and its secret'), ...errorResponses(400, 401, 403, 413) } });
  app.post('/v1/keys', admin, async (c) => {
    const body = await readJson(ctx(c), KeyInput);
    if (!body.ok) return body.response;
    // A scoped admin can only hand out keys within its own scope.
    if (!insideScope(c.get('principal'), { appIds: body.value.app_ids ?? null, adNetworkIds: body.value.ad_network_ids ?? null })) {
      return problem(ctx(c), 403, 'out_of_scope', 'Forbidden', { detail: 'a scoped key can only create keys within its own scope' });
    }
    const { key, secret } = await deps.writer.run((db) => createApiKey(db, body.value, deps.now()));
    return c.json({ ...publicKey(key), secret }, 201);
  });

  app.openAPIRegistry.registerPath({ method: 'delete', path: '/v1/keys/{id}', summary: 'Revoke a key', security: bearer, request: { params: z.object({ id: z.string() }) }, responses: { 204: { description: 'Revoked' }, ...errorResponses(401, 403, 404) } });
  app.delete('/v1/keys/:id', admin, async (c) => {
    const id = intParam(ctx(c), 'id');
    const principal = c.get('principal');
    const deleted =
      id !== undefined &&
      (await deps.writer.run(async (db) => {
        const key = await getApiKey(db, id);
        return key !== undefined && insideScope(principal, key) && deleteApiKey(db, id);
      }));
    return deleted ? c.body(null, 204) : notFound(ctx(c), `key ${c.req.param('id')}`);
  });
}
