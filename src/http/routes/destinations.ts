// Forwarding administration: destinations, their control and figures. Destinations see every
// app's postbacks, so only unscoped admins manage them.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { deleteDestination, destinationStats, forgetDeliveries, getDestination, listDestinations, setPaused } from '../../db/destinations.js';
import { DestinationInput } from '../../forward/destination-input.js';
import { backfill, createDestination, publicDestination, updateDestination } from '../../forward/destinations.js';
import { MACROS } from '../../forward/template.js';
import { requireRole } from '../auth.js';
import { type AppEnv, shardsOf } from '../deps.js';
import { NotFoundError } from '../errors.js';
import { anyJson, bearer, errorResponses, IdParams, jsonBody, noContent, servedTwice, strictJson } from '../openapi.js';

const Backfill = z
  .object({ since: z.iso.datetime({ offset: true }) })
  .strict()
  .openapi('BackfillInput');
const admin = requireRole('admin', { unscoped: true });

export function destinationRoutes(app: OpenAPIHono<AppEnv>): void {
  const route = <const R extends Parameters<typeof createRoute>[0]>(config: R) =>
    createRoute({ ...config, security: bearer, middleware: [admin, ...((config.middleware as []) ?? [])] as const });
  const missing = (id: number) => new NotFoundError(`destination ${id}`);

  servedTwice(
    app,
    route({ method: 'get', path: '/v1/destinations', summary: 'Destinations (secrets never shown)', responses: { 200: anyJson('Destinations'), ...errorResponses(401, 403) } }),
    async (c) => c.json({ destinations: (await listDestinations(c.get('deps').db)).map(publicDestination) }, 200),
  );

  app.openapi(
    route({
      method: 'post',
      path: '/v1/destinations',
      summary: `Add a destination; template macros: ${MACROS.map((m) => `{${m}}`).join(' ')}`,
      middleware: [strictJson],
      request: jsonBody(DestinationInput),
      responses: { 201: anyJson('The destination'), ...errorResponses(400, 401, 403, 413) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const input = c.req.valid('json');
      return c.json(publicDestination(await deps.writer.run((tx) => createDestination(tx, input, deps.now()))), 201);
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/v1/destinations/{id}',
      summary: 'One destination',
      request: { params: IdParams },
      responses: { 200: anyJson('The destination'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const row = await getDestination(c.get('deps').db, id);
      if (!row) throw missing(id);
      return c.json(publicDestination(row), 200);
    },
  );

  app.openapi(
    route({
      method: 'patch',
      path: '/v1/destinations/{id}',
      summary: 'Change some fields (secret: null removes it); every check of a new destination applies to the result',
      middleware: [strictJson],
      request: { params: IdParams, ...jsonBody(z.record(z.string(), z.unknown())) },
      responses: { 200: anyJson('The destination'), ...errorResponses(400, 401, 403, 404, 413) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const deps = c.get('deps');
      const patch = c.req.valid('json');
      const row = await deps.writer.run((tx) => updateDestination(tx, id, patch, deps.now()));
      if (!row) throw missing(id);
      return c.json(publicDestination(row), 200);
    },
  );

  app.openapi(
    route({
      method: 'delete',
      path: '/v1/destinations/{id}',
      summary: 'Remove a destination and its pending copies',
      request: { params: IdParams },
      responses: { 204: noContent('Removed'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const deps = c.get('deps');
      if (!(await deps.writer.run((tx) => deleteDestination(tx, id)))) throw missing(id);
      // Claims skip deliveries of destinations that are gone; their rows on the shards go too.
      for (const shard of shardsOf(deps).all) await shard.writer.run((tx) => forgetDeliveries(tx, id));
      return c.body(null, 204);
    },
  );

  for (const action of ['pause', 'resume'] as const) {
    servedTwice(
      app,
      route({
        method: 'post',
        path: `/v1/destinations/{id}/${action}`,
        summary: action === 'pause' ? 'Stop sending; copies keep queueing' : 'Send again, queued copies first',
        request: { params: IdParams },
        responses: { 200: anyJson('The destination'), ...errorResponses(401, 403, 404) },
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const deps = c.get('deps');
        const row = await deps.writer.run((tx) => setPaused(tx.db, id, action === 'pause', deps.now()));
        if (!row) throw missing(id);
        return c.json(publicDestination(row), 200);
      },
    );
  }

  app.openapi(
    route({
      method: 'post',
      path: '/v1/destinations/{id}/backfill',
      summary: 'Queue copies of postbacks received since a time',
      middleware: [strictJson],
      request: { params: IdParams, ...jsonBody(Backfill) },
      responses: { 200: anyJson('How many copies were queued'), ...errorResponses(400, 401, 403, 404, 413) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const deps = c.get('deps');
      const since = new Date(c.req.valid('json').since);
      const destination = await getDestination(deps.db, id);
      if (!destination) throw missing(id);
      let queued = 0;
      for (const shard of shardsOf(deps).all) {
        for (let afterId = 0, done = false; !done; ) {
          const step = await shard.writer.run((tx) => backfill(tx, destination, since, deps.now(), afterId));
          queued += step.queued;
          afterId = step.lastId;
          done = step.done;
        }
      }
      return c.json({ queued }, 200);
    },
  );

  servedTwice(
    app,
    route({
      method: 'get',
      path: '/v1/destinations/{id}/stats',
      summary: 'Delivered, pending, retrying, dead, last success and error, latency',
      request: { params: IdParams },
      responses: { 200: anyJson('Figures'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const deps = c.get('deps');
      if (!(await getDestination(deps.db, id))) throw missing(id);
      return c.json(await destinationStats(shardsOf(deps).all, id), 200);
    },
  );
}
