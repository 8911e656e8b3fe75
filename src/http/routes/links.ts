// Tracking links: admins of a network make them (within their key's scope) and put their click
// URLs in ads; each names the MMP partner whose attribution link it redirects to.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteLink, getLink, listLinks } from '../../db/mmp.js';
import type { LinkRow } from '../../db/schema.js';
import { createLink, LINK_MACROS, LinkInput, publicLink, updateLink } from '../../mmp/links.js';
import { insideScope, requireRole } from '../auth.js';
import type { AppEnv, Principal } from '../deps.js';
import { NotFoundError, ScopeError } from '../errors.js';
import { anyJson, bearer, errorResponses, IdParams, jsonBody, noContent, servedTwice, strictJson } from '../openapi.js';

/** The origin clients reach skanpost at: configured, else the request's. */
export const publicOrigin = (c: Context<AppEnv>) => c.get('deps').publicUrl ?? new URL(c.req.url).origin;

const linkScope = (l: { app_id: number; ad_network_id: string }) => ({ appIds: [l.app_id], adNetworkIds: [l.ad_network_id] });
const rowScope = (l: LinkRow) => ({ appIds: [l.appId], adNetworkIds: [l.adNetworkId] });

export function linkRoutes(app: OpenAPIHono<AppEnv>): void {
  const route = <const R extends Parameters<typeof createRoute>[0]>(config: R) =>
    createRoute({ ...config, security: bearer, middleware: [requireRole('admin'), ...((config.middleware as []) ?? [])] as const });
  /** The link, if it exists and lies in the key's scope (outside it, it does not exist for this key). */
  const visible = async (c: Context<AppEnv>, id: number) => {
    const row = await getLink(c.get('deps').db, id);
    if (!row || !insideScope(c.get('principal'), rowScope(row))) throw new NotFoundError(`link ${id}`);
    return row;
  };
  const mayManage = (principal: Principal) => (input: LinkInput) => {
    if (!insideScope(principal, linkScope(input))) throw new ScopeError('this key may not manage links of that app or ad network');
  };

  servedTwice(
    app,
    route({ method: 'get', path: '/v1/links', summary: 'Tracking links (within the key scope)', responses: { 200: anyJson('{"links": [...]}'), ...errorResponses(401, 403) } }),
    async (c) => {
      const principal = c.get('principal');
      const rows = (await listLinks(c.get('deps').db)).filter((l) => insideScope(principal, rowScope(l)));
      return c.json({ links: rows.map((l) => publicLink(l, publicOrigin(c))) }, 200);
    },
  );

  app.openapi(
    route({
      method: 'post',
      path: '/v1/links',
      summary: `Add a tracking link; target_url and impression_url macros: ${LINK_MACROS.map((m) => `{${m}}`).join(' ')}`,
      middleware: [strictJson],
      request: jsonBody(LinkInput),
      responses: { 201: anyJson('The link, with click_url and impression_pixel_url'), ...errorResponses(400, 401, 403, 413) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const input = c.req.valid('json');
      mayManage(c.get('principal'))(input);
      return c.json(publicLink(await deps.writer.run((tx) => createLink(tx, input, deps.now())), publicOrigin(c)), 201);
    },
  );

  app.openapi(
    route({ method: 'get', path: '/v1/links/{id}', summary: 'One link', request: { params: IdParams }, responses: { 200: anyJson('The link'), ...errorResponses(401, 403, 404) } }),
    async (c) => c.json(publicLink(await visible(c, c.req.valid('param').id), publicOrigin(c)), 200),
  );

  app.openapi(
    route({
      method: 'patch',
      path: '/v1/links/{id}',
      summary: 'Change some fields (enabled: false stops its clicks: 404); every check of a new link applies to the result',
      middleware: [strictJson],
      request: { params: IdParams, ...jsonBody(z.record(z.string(), z.unknown())) },
      responses: { 200: anyJson('The link'), ...errorResponses(400, 401, 403, 404, 413) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const deps = c.get('deps');
      const current = await visible(c, id);
      const row = await deps.writer.run((tx) => updateLink(tx, current, c.req.valid('json'), deps.now(), mayManage(c.get('principal'))));
      if (!row) throw new NotFoundError(`link ${id}`);
      return c.json(publicLink(row, publicOrigin(c)), 200);
    },
  );

  app.openapi(
    route({
      method: 'delete',
      path: '/v1/links/{id}',
      summary: 'Remove a link: its clicks get 404 from now on; its clicks and postbacks already kept stay',
      request: { params: IdParams },
      responses: { 204: noContent('Removed'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      await visible(c, id);
      if (!(await c.get('deps').writer.run((tx) => deleteLink(tx, id)))) throw new NotFoundError(`link ${id}`);
      return c.body(null, 204);
    },
  );
}
