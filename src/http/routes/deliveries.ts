// The outbox as admins see it: deliveries by destination and state (dead letters above all), and
// sending them again.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { deliveryIdsOf, listDeliveries, replayDeliveries } from '../../db/outbox.js';
import type { DeliveryRow } from '../../db/schema.js';
import { pageAcross, splitId } from '../../db/shards.js';
import { requireRole } from '../auth.js';
import { type AppEnv, shardsOf } from '../deps.js';
import { anyJson, bearer, Count, errorResponses, jsonBody, servedTwice, strictJson } from '../openapi.js';

const ListParams = z
  .object({
    destination: Count.optional(),
    state: z.enum(['pending', 'delivered', 'dead']).optional(),
    cursor: Count.optional(),
    limit: Count.optional().openapi({ description: 'page size, default 100, at most 1000' }),
  })
  .strict();

const Replay = z
  .object({ ids: z.array(z.number().int()).max(10_000).optional(), destination: z.number().int().optional(), state: z.enum(['dead', 'pending']).optional() })
  .strict()
  .refine((r) => r.ids !== undefined || r.destination !== undefined || r.state !== undefined, { message: 'give ids, or a filter (destination, state)' })
  .openapi('ReplayInput');

const deliveryView = (d: DeliveryRow) => ({
  id: d.id,
  postback_id: d.postbackId,
  mmp_postback_id: d.mmpPostbackId,
  /** An impression announced to its link's MMP (no destination). */
  click_row_id: d.clickRowId,
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

export function deliveryRoutes(app: OpenAPIHono<AppEnv>): void {
  const admin = requireRole('admin', { unscoped: true });
  servedTwice(
    app,
    createRoute({
      method: 'get',
      path: '/v1/deliveries',
      summary: 'Deliveries, e.g. dead letters: ?destination=&state=dead',
      security: bearer,
      middleware: [admin] as const,
      request: { query: ListParams },
      responses: { 200: anyJson('A page of deliveries'), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const p = c.req.valid('query');
      const limit = Math.min(p.limit ?? 100, 1000);
      const filter = { destinationId: p.destination, state: p.state };
      const rows = await pageAcross<DeliveryRow>(shardsOf(c.get('deps')).all, p.cursor ?? 0, limit, (shard, local, n) => listDeliveries(shard.db, filter, local, n), [
        'postbackId',
        'mmpPostbackId',
        'clickRowId',
      ]);
      return c.json({ deliveries: rows.map(deliveryView), next_cursor: rows.length === limit ? rows.at(-1)!.id : null }, 200);
    },
  );

  servedTwice(
    app,
    createRoute({
      method: 'post',
      path: '/v1/deliveries/replay',
      summary: 'Send deliveries again now: by ids, or every one matching destination and state',
      security: bearer,
      middleware: [admin, strictJson] as const,
      request: jsonBody(Replay),
      responses: { 200: anyJson('How many were made due'), ...errorResponses(400, 401, 403, 413) },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const deps = c.get('deps');
      let replayed = 0;
      // Ids name their shard; a filter is replayed on every shard.
      for (const shard of shardsOf(deps).all) {
        const mine = input.ids?.filter((id) => splitId(id).shard === shard.index).map((id) => splitId(id).local);
        if (mine?.length === 0) continue;
        replayed += await shard.writer.run(async (tx) =>
          replayDeliveries(tx, mine ?? (await deliveryIdsOf(tx.db, { destinationId: input.destination, state: input.state ?? 'dead' })), deps.now()),
        );
      }
      return c.json({ replayed }, 200);
    },
  );
}
