// Campaign-name mappings: a source identifier of an ad network and app, named over a period.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { addCampaign, type CampaignRow, deleteCampaign, getCampaign, listCampaigns } from '../../db/settings.js';
import { insideScope, requireRole } from '../auth.js';
import type { AppEnv } from '../deps.js';
import { NotFoundError, ScopeError } from '../errors.js';
import { anyJson, bearer, errorResponses, IdParams, jsonBody, noContent, servedTwice, strictJson } from '../openapi.js';

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

const CampaignInput = z
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

const campaignScope = (m: { appId: number; adNetworkId: string }) => ({ appIds: [m.appId], adNetworkIds: [m.adNetworkId] });

export function campaignRoutes(app: OpenAPIHono<AppEnv>): void {
  servedTwice(
    app,
    createRoute({
      method: 'get',
      path: '/v1/campaigns',
      summary: 'Campaign-name mappings (within the key scope)',
      security: bearer,
      middleware: [requireRole('analyst')] as const,
      responses: { 200: anyJson('Mappings, newest first'), ...errorResponses(401, 403) },
    }),
    async (c) => {
      const p = c.get('principal');
      const rows = await listCampaigns(c.get('deps').db, { ...(p.appIds ? { appIds: p.appIds } : {}), ...(p.adNetworkIds ? { adNetworkIds: p.adNetworkIds } : {}) });
      return c.json({ campaigns: rows.map(campaignView) }, 200);
    },
  );

  servedTwice(
    app,
    createRoute({
      method: 'post',
      path: '/v1/campaigns',
      summary: 'Name a source identifier (2–4 digits) of an ad network and app, optionally for a period',
      security: bearer,
      middleware: [requireRole('admin'), strictJson] as const,
      request: jsonBody(CampaignInput),
      responses: { 201: anyJson('The mapping'), ...errorResponses(400, 401, 403, 413) },
    }),
    async (c) => {
      const input = c.req.valid('json');
      if (!insideScope(c.get('principal'), campaignScope({ appId: input.app_id, adNetworkId: input.ad_network_id }))) {
        throw new ScopeError('this key may not manage that app or ad network');
      }
      const deps = c.get('deps');
      const row = await deps.writer.run((tx) => addCampaign(tx, input, deps.now()));
      return c.json(campaignView(row), 201);
    },
  );

  servedTwice(
    app,
    createRoute({
      method: 'delete',
      path: '/v1/campaigns/{id}',
      summary: 'Delete a mapping',
      security: bearer,
      middleware: [requireRole('admin')] as const,
      request: { params: IdParams },
      responses: { 204: noContent('Deleted'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const principal = c.get('principal');
      const deps = c.get('deps');
      const deleted = await deps.writer.run(async (tx) => {
        const row = await getCampaign(tx.db, id);
        return row !== undefined && insideScope(principal, campaignScope(row)) && deleteCampaign(tx, row, deps.now());
      });
      if (!deleted) throw new NotFoundError(`campaign mapping ${id}`);
      return c.body(null, 204);
    },
  );
}
