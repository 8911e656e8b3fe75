// Where apps are (Workers sharded by app): each shard with how many apps it holds, and where given
// apps are placed. Operators read it to balance shards and to find an app's database. Every app's
// placement: unscoped admins only.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { requireRole } from '../auth.js';
import { type AppEnv, shardsOf } from '../deps.js';
import { AppIds, anyJson, bearer, errorResponses } from '../openapi.js';

const Params = z.object({ app_id: AppIds.optional().openapi({ description: 'apps to locate (comma-separated)' }) }).strict();

export function shardRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/shards',
      summary: 'The shards (SHARD_k, or the one database), how many apps each holds, and where given apps are',
      security: bearer,
      middleware: [requireRole('admin', { unscoped: true })] as const,
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
}
