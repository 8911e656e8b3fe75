// Forwarding administration: destinations, their control and figures, dead letters and replay.
import type { Context } from 'hono';
import { z } from '@hono/zod-openapi';
import { and, asc, eq, gt } from 'drizzle-orm';
import { backfill, createDestination, deleteDestination, deliveryIdsOf, DestinationError, destinationStats, getDestination, listDestinations, publicDestination, setPaused, updateDestination } from '../../db/destinations.js';
import { replayDeliveries } from '../../db/outbox.js';
import { deliveries } from '../../db/schema.js';
import { DestinationInput } from '../../forward/destination.js';
import { MACROS } from '../../forward/template.js';
import { requireRole } from '../auth.js';
import { problem } from '../problem.js';
import { bearer, errorResponses, intParam, invalidQuery, readJson, type V1App, type V1Deps } from './common.js';

const ctx = (c: unknown) => c as Context;
const json = (description: string) => ({ description, content: { 'application/json': { schema: z.object({}).passthrough() } } });
const idParam = { params: z.object({ id: z.string() }) };
const body = (schema: z.ZodType) => ({ body: { content: { 'application/json': { schema } } } });

const Backfill = z.object({ since: z.iso.datetime({ offset: true }) }).strict().openapi('BackfillInput');
const Replay = z
  .object({ ids: z.array(z.number().int()).max(10_000).optional(), destination: z.number().int().optional(), state: z.enum(['dead', 'pending']).optional() })
  .strict()
  .refine((r) => r.ids !== undefined || r.destination !== undefined || r.state !== undefined, { message: 'give ids, or a filter (destination, state)' })
  .openapi('ReplayInput');

const deliveryView = (d: typeof deliveries.$inferSelect) => ({
  id: d.id,
  postback_id: d.postbackId,
  destination_id: d.destinationId,
  state: d.state,
  attempts: d.attempts,
  next_attempt_at: d.nextAttemptAt.toISOString(),
  last_status: d.lastStatus,
  last_error: d.lastError,
  last_latency_ms: d.lastLatencyMs,
  created_at: d.createdAt.toISOString(),
  delivered_at: d.deliveredAt?.toISOString() ?? null,
});

export function forwardingRoutes(app: V1App, deps: V1Deps): void {
  // Destinations see every app's postbacks: only unscoped admins manage them.
  const admin = requireRole('admin', deps, { unscoped: true });
  const notFound = (c: Context) => problem(c, 404, 'not_found', 'Not Found', { detail: `no destination ${c.req.param('id')}` });
  const invalid = (c: Context, error: DestinationError) =>
    problem(c, 400, 'invalid_body', 'Bad Request', { detail: error.message, problems: [{ field: error.field, reason: error.message }] });
  const register = (method: 'get' | 'post' | 'patch' | 'delete', path: string, summary: string, extra: object = {}, ok: object = { 200: json('OK') }) =>
    app.openAPIRegistry.registerPath({ method, path, summary, security: bearer, ...extra, responses: { ...ok, ...errorResponses(400, 401, 403, 404) } } as Parameters<typeof app.openAPIRegistry.registerPath>[0]);

  register('get', '/v1/destinations', 'Destinations (secrets never shown)');
  app.get('/v1/destinations', admin, async (c) => c.json({ destinations: (await listDestinations(deps.db)).map(publicDestination) }));

  register('post', '/v1/destinations', `Add a destination; template macros: ${MACROS.map((m) => `{${m}}`).join(' ')}`, { request: body(DestinationInput) }, { 201: json('The destination') });
  app.post('/v1/destinations', admin, async (c) => {
    const input = await readJson(ctx(c), DestinationInput);
    if (!input.ok) return input.response;
    try {
      return c.json(publicDestination(await deps.writer.run((db) => createDestination(db, input.value, deps.now()))), 201);
    } catch (error) {
      if (error instanceof DestinationError) return invalid(ctx(c), error);
      throw error;
    }
  });

  register('get', '/v1/destinations/{id}', 'One destination', { request: idParam });
  app.get('/v1/destinations/:id', admin, async (c) => {
    const id = intParam(ctx(c), 'id');
    const row = id === undefined ? undefined : await getDestination(deps.db, id);
    return row ? c.json(publicDestination(row)) : notFound(ctx(c));
  });

  register('patch', '/v1/destinations/{id}', 'Change some fields (secret: null removes it)', { request: { ...idParam, ...body(z.object({}).passthrough()) } });
  app.patch('/v1/destinations/:id', admin, async (c) => {
    const id = intParam(ctx(c), 'id');
    const patch = await readJson(ctx(c), z.record(z.string(), z.unknown()));
    if (!patch.ok) return patch.response;
    try {
      const row = id === undefined ? undefined : await deps.writer.run((db) => updateDestination(db, id, patch.value, deps.now()));
      return row ? c.json(publicDestination(row)) : notFound(ctx(c));
    } catch (error) {
      if (error instanceof DestinationError) return invalid(ctx(c), error);
      throw error;
    }
  });

  register('delete', '/v1/destinations/{id}', 'Remove a destination and its pending copies', { request: idParam }, { 204: { description: 'Removed' } });
  app.delete('/v1/destinations/:id', admin, async (c) => {
    const id = intParam(ctx(c), 'id');
    const deleted = id !== undefined && (await deps.writer.run((db) => deleteDestination(db, id)));
    return deleted ? c.body(null, 204) : notFound(ctx(c));
  });

  for (const action of ['pause', 'resume'] as const) {
    register('post', `/v1/destinations/{id}/${action}`, action === 'pause' ? 'Stop sending; copies keep queueing' : 'Send again, queued copies first', { request: idParam });
    app.post(`/v1/destinations/:id/${action}`, admin, async (c) => {
      const id = intParam(ctx(c), 'id');
      const row = id === undefined ? undefined : await deps.writer.run((db) => setPaused(db, id, action === 'pause', deps.now()));
      return row ? c.json(publicDestination(row)) : notFound(ctx(c));
    });
  }

  register('post', '/v1/destinations/{id}/backfill', 'Queue copies of postbacks received since a time', { request: { ...idParam, ...body(Backfill) } });
  app.post('/v1/destinations/:id/backfill', admin, async (c) => {
    const id = intParam(ctx(c), 'id');
    const input = await readJson(ctx(c), Backfill);
    if (!input.ok) return input.response;
    if (id === undefined || !(await getDestination(deps.db, id))) return notFound(ctx(c));
    let queued = 0;
    for (let afterId = 0, done = false; !done; ) {
      const step = await deps.writer.run((db) => backfill(db, id, new Date(input.value.since), deps.now(), afterId));
      queued += step.queued;
      afterId = step.lastId;
      done = step.done;
    }
    return c.json({ queued });
  });

  register('get', '/v1/destinations/{id}/stats', 'Delivered, pending, retrying, dead, last success and error, latency', { request: idParam });
  app.get('/v1/destinations/:id/stats', admin, async (c) => {
    const id = intParam(ctx(c), 'id');
    if (id === undefined || !(await getDestination(deps.db, id))) return notFound(ctx(c));
    return c.json(await destinationStats(deps.db, id));
  });

  const ListParams = z.object({
    destination: z.string().regex(/^\d+$/).optional(),
    state: z.enum(['pending', 'delivered', 'dead']).optional(),
    cursor: z.string().regex(/^\d+$/).optional(),
    limit: z.string().regex(/^\d+$/).optional(),
  });
  register('get', '/v1/deliveries', 'Deliveries, e.g. dead letters: ?destination=&state=dead', { request: { query: ListParams } });
  app.get('/v1/deliveries', admin, async (c) => {
    const parsed = ListParams.strict().safeParse(c.req.query());
    if (!parsed.success) return invalidQuery(ctx(c), parsed.error);
    const p = parsed.data;
    const limit = Math.min(Number(p.limit ?? 100), 1000);
    const rows = await deps.db
      .select()
      .from(deliveries)
      .where(and(gt(deliveries.id, Number(p.cursor ?? 0)), p.destination ? eq(deliveries.destinationId, Number(p.destination)) : undefined, p.state ? eq(deliveries.state, p.state) : undefined))
      .orderBy(asc(deliveries.id))
      .limit(limit);
    return c.json({ deliveries: rows.map(deliveryView), next_cursor: rows.length === limit ? rows.at(-1)!.id : null });
  });

  register('post', '/v1/deliveries/replay', 'Send deliveries again now: by ids, or every one matching destination and state', { request: body(Replay) });
  app.post('/v1/deliveries/replay', admin, async (c) => {
    const input = await readJson(ctx(c), Replay);
    if (!input.ok) return input.response;
    const replayed = await deps.writer.run(async (db) => {
      const ids = input.value.ids ?? (await deliveryIdsOf(db, { destinationId: input.value.destination, state: input.value.state ?? 'dead' }));
      return replayDeliveries(db, ids, deps.now());
    });
    return c.json({ replayed });
  });
}
