// GET /v1/postbacks (filters, cursor paging, NDJSON export) and GET /v1/postbacks/:id.

import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { getPostback, listPostbacks, type PostbackFilter } from '../../db/postbacks.js';
import type { PostbackRow } from '../../db/schema.js';
import { outside, pageAcross, splitId } from '../../db/shards.js';
import type { Decode } from '../../model/decode.js';
import { snakeKeys } from '../../postback/types.js';
import { requireRole, withinScope } from '../auth.js';
import { type AppEnv, type Principal, shardsOf } from '../deps.js';
import { NotFoundError } from '../errors.js';
import { AppIds, bearer, Count, errorResponses, IdParams, Instant, json, List, ndjsonExport, oneOf } from '../openapi.js';

const ListParams = z
  .object({
    app_id: AppIds.optional(),
    ad_network_id: List.pipe(z.array(z.string()).min(1)).optional(),
    protocol: oneOf(['skan', 'aak'] as const),
    environment: oneOf(['production', 'development'] as const),
    signature: oneOf(['verified', 'invalid', 'unverifiable', 'development'] as const),
    outcome: oneOf(['stored', 'conflict', 'duplicate'] as const),
    since: Instant.optional().openapi({ description: 'received at or after: an RFC 3339 time, or a day (YYYY-MM-DD, from 00:00 UTC)' }),
    until: Instant.optional().openapi({ description: 'received before: an RFC 3339 time, or a day (YYYY-MM-DD, from 00:00 UTC)' }),
    cursor: Count.optional().openapi({ description: 'next_cursor of the previous page' }),
    limit: Count.pipe(z.number().min(1).max(1000)).optional().openapi({ description: 'page size, default 100 (JSON); NDJSON exports everything unless given' }),
    format: z.enum(['json', 'ndjson']).optional(),
  })
  .strict();

/** snake_case like every other key of the API, beside the camelCase keys it had first (deprecated). */
const describeDecode = (decode: Decode) => ({
  ...decode,
  schema_version: decode.schemaVersion,
  revenue_min_micros: decode.revenueMinMicros,
  revenue_max_micros: decode.revenueMaxMicros,
});

function describePostback(row: PostbackRow, detail: boolean) {
  const { body, bodySha256, dedupeKey, reasons, receivedAt, installedAt, decode, id, ...rest } = row;
  return {
    id,
    signature: row.signature,
    outcome: row.outcome,
    received_at: receivedAt.toISOString(),
    installed_at: installedAt?.toISOString() ?? null,
    ...snakeKeys(rest),
    reasons,
    decode: decode && describeDecode(decode),
    ...(detail ? { body, body_sha256: bodySha256 } : {}),
  };
}

/** The key's scope as a filter. */
const scopeFilter = (principal: Principal): PostbackFilter => ({ appIds: principal.appIds ?? undefined, adNetworkIds: principal.adNetworkIds ?? undefined });

const PostbackSchema = z.object({ id: z.number().int(), received_at: z.string(), signature: z.string(), outcome: z.string() }).passthrough().openapi('Postback');

export function postbackRoutes(app: OpenAPIHono<AppEnv>): void {
  const listRoute = createRoute({
    method: 'get',
    path: '/v1/postbacks',
    summary: 'Stored postbacks, oldest first; format=ndjson exports {"received_at","raw","body"} lines that `skanpost import` takes back (raw: the body as stored)',
    security: bearer,
    middleware: [requireRole('analyst')] as const,
    request: { query: ListParams },
    responses: {
      200: {
        description: 'A page of postbacks, or an NDJSON export',
        content: {
          'application/json': { schema: z.object({ postbacks: z.array(PostbackSchema), next_cursor: z.number().int().nullable() }) },
          'application/x-ndjson': { schema: z.string() },
        },
      },
      ...errorResponses(400, 401, 403),
    },
  });
  app.openapi(listRoute, async (c) => {
    const shards = shardsOf(c.get('deps'));
    const p = c.req.valid('query');
    const principal = c.get('principal');
    const filter: PostbackFilter = {
      // As in reports: asking outside the key's scope is refused, not answered with nothing.
      appIds: withinScope('app_id', p.app_id, principal.appIds) as number[] | undefined,
      adNetworkIds: withinScope('ad_network_id', p.ad_network_id, principal.adNetworkIds) as string[] | undefined,
      protocols: p.protocol,
      environments: p.environment,
      signatures: p.signature,
      outcomes: p.outcome,
      since: p.since ? new Date(p.since) : undefined,
      until: p.until ? new Date(p.until) : undefined,
    };
    const over = await shards.holding(filter.appIds ?? null);
    const page = (after: number, size: number) => pageAcross<PostbackRow>(over, after, size, (shard, local, n) => listPostbacks(shard.db, filter, local, n), ['firstId']);
    if (p.format === 'ndjson') {
      // `raw` is the body exactly as stored: re-serializing `body` would turn 5.0 into 5 and
      // 1e400 into null. `body` stays for people and for scripts that read it.
      return ndjsonExport(c, page, p.cursor ?? 0, p.limit, (r) => ({ received_at: r.receivedAt.toISOString(), raw: r.body, body: JSON.parse(r.body) }));
    }
    const limit = p.limit ?? 100;
    const rows = await page(p.cursor ?? 0, limit);
    return c.json({ postbacks: rows.map((r) => describePostback(r, false)), next_cursor: rows.length === limit ? rows.at(-1)!.id : null }, 200);
  });

  const oneRoute = createRoute({
    method: 'get',
    path: '/v1/postbacks/{id}',
    summary: 'One postback: raw body, fields, verdict, reasons, decode',
    security: bearer,
    middleware: [requireRole('analyst')] as const,
    request: { params: IdParams },
    responses: { 200: json('The postback', PostbackSchema), ...errorResponses(401, 403, 404) },
  });
  app.openapi(oneRoute, async (c) => {
    const { id } = c.req.valid('param');
    const shard = shardsOf(c.get('deps')).ofId(id);
    const row = shard && (await getPostback(shard.db, splitId(id).local, scopeFilter(c.get('principal'))));
    if (!row) throw new NotFoundError(`postback ${id}`);
    return c.json(describePostback(outside(shard, row, ['firstId']), true), 200);
  });
}
