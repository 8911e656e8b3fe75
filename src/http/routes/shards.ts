// Where apps are (Workers sharded by app): each shard with how many apps it holds, and where given
// apps are placed, and moving an app to another shard. Operators read it to balance shards and to
// find an app's database. Every app's placement: unscoped admins only.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { getMove, listMoves, moveView, startMove } from '../../maintenance/moves.js';
import { requireRole } from '../auth.js';
import { type AppEnv, shardsOf } from '../deps.js';
import { NotFoundError } from '../errors.js';
import { AppIds, anyJson, bearer, Count, errorResponses, IdParams, jsonBody, strictJson } from '../openapi.js';

const admin = requireRole('admin', { unscoped: true });

const MoveBody = z
  .object({
    app_id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).openapi({ description: "the app (Apple's app id) to move" }),
    to: z.number().int().min(0).max(1023).openapi({ description: 'the shard to move it to (k of SHARD_k)' }),
  })
  .strict()
  .openapi('ShardMove');

const MoveList = z.object({ limit: Count.pipe(z.number().int().min(1).max(1000)).optional().openapi({ description: 'how many, newest first; default 100' }) }).strict();

const Params = z.object({ app_id: AppIds.optional().openapi({ description: 'apps to locate (comma-separated)' }) }).strict();
const MOVE_SHAPE =
  '{"id", "app_id", "from", "to", "state", "error", "progress": {"copied", "verified", "repairedBuckets", "heldWrites", "deleted", "pendingDeliveries"}, "created_at", "held_at", "switched_at", "done_at"}';

export function shardRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/shards',
      summary: 'The shards (SHARD_k, or the one database), how many apps each holds, and where given apps are',
      security: bearer,
      middleware: [admin] as const,
      request: { query: Params },
      responses: { 200: anyJson('{"shards": [{"shard", "apps", "bound"}], "placements": [{"app_id", "shard"}]}'), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const shards = shardsOf(c.get('deps'));
      const asked = c.req.valid('query').app_id;
      const placed = asked ? await shards.placements(asked) : new Map<number, number>();
      return c.json(
        {
          shards: await shards.census(),
          placements: [...placed].map(([appId, shard]) => ({ app_id: appId, shard })),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/shards/moves',
      summary:
        'Move an app to another shard: the cron copies its rows, holds its writes for the final copy and the check, switches, then deletes the source\'s rows (docs/workers.md, "Moving an app")',
      security: bearer,
      middleware: [admin, strictJson] as const,
      request: jsonBody(MoveBody),
      responses: { 202: anyJson(MOVE_SHAPE), ...errorResponses(400, 401, 403, 404, 409, 413, 422) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const body = c.req.valid('json');
      const move = await startMove(deps.db, shardsOf(deps), body.app_id, body.to, deps.now());
      return c.json(moveView(move), 202, { Location: `/v1/shards/moves/${move.id}` });
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/shards/moves',
      summary: 'Moves between shards, newest first',
      security: bearer,
      middleware: [admin] as const,
      request: { query: MoveList },
      responses: { 200: anyJson(`{"moves": [${MOVE_SHAPE}]}`), ...errorResponses(400, 401, 403) },
    }),
    async (c) => c.json({ moves: (await listMoves(c.get('deps').db, c.req.valid('query').limit ?? 100)).map(moveView) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/shards/moves/{id}',
      summary: 'One move between shards: its state and what it has copied, checked and deleted',
      security: bearer,
      middleware: [admin] as const,
      request: { params: IdParams },
      responses: { 200: anyJson(MOVE_SHAPE), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const move = await getMove(c.get('deps').db, c.req.valid('param').id);
      if (!move) throw new NotFoundError('such move');
      return c.json(moveView(move), 200);
    },
  );
}
