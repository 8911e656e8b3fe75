// GET /v1/postbacks (filters, cursor paging, NDJSON export) and GET /v1/postbacks/:id.
import type { Context } from 'hono';
import { z } from '@hono/zod-openapi';
import { and, asc, eq, gt, gte, inArray, lt, type SQL } from 'drizzle-orm';
import type { Decode } from '../../model/decode.js';
import { postbacks, type PostbackRow } from '../../db/schema.js';
import { snakeKeys } from '../../postback/types.js';
import { requireRole, ScopeError, withinScope, type Principal } from '../auth.js';
import { problem } from '../problem.js';
import { bearer, errorResponses, intParam, invalidQuery, type V1App, type V1Deps } from './common.js';

const list = z.string().transform((s) => s.split(',').map((v) => v.trim()).filter(Boolean));
/** A time, or a day taken as its start in UTC. */
const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date().transform((day) => `${day}T00:00:00Z`)]);

const ListParams = z
  .object({
    app_id: list.pipe(z.array(z.string().regex(/^\d{1,15}$/, 'an app id is an integer').transform(Number)).min(1)).optional(),
    ad_network_id: list.pipe(z.array(z.string()).min(1)).optional(),
    protocol: list.pipe(z.array(z.enum(['skan', 'aak'])).min(1)).optional(),
    environment: list.pipe(z.array(z.enum(['production', 'development'])).min(1)).optional(),
    signature: list.pipe(z.array(z.enum(['verified', 'invalid', 'unverifiable', 'development'])).min(1)).optional(),
    outcome: list.pipe(z.array(z.enum(['stored', 'conflict', 'duplicate'])).min(1)).optional(),
    since: instant.optional().openapi({ description: 'received at or after: an RFC 3339 time, or a day (YYYY-MM-DD, from 00:00 UTC)' }),
    until: instant.optional().openapi({ description: 'received before: an RFC 3339 time, or a day (YYYY-MM-DD, from 00:00 UTC)' }),
    cursor: z.coerce.number().int().min(0).optional().openapi({ description: 'next_cursor of the previous page' }),
    limit: z.coerce.number().int().min(1).max(1000).optional().openapi({ description: 'page size, default 100 (JSON); NDJSON exports everything unless given' }),
    format: z.enum(['json', 'ndjson']).optional(),
  })
  .strict();

/** snake_case like every other key of the API, beside the camelCase keys it had first (deprecated). */
const describeDecode = (decode: Decode) => ({ ...decode, schema_version: decode.schemaVersion, revenue_min_micros: decode.revenueMinMicros, revenue_max_micros: decode.revenueMaxMicros });

export function describePostback(row: PostbackRow, detail: boolean) {
  const { body, bodySha256, dedupeKey, reasons, receivedAt, installedAt, decode, id, ...rest } = row;
  const fields = snakeKeys(rest);
  return {
    id,
    received_at: receivedAt.toISOString(),
    installed_at: installedAt?.toISOString() ?? null,
    ...fields,
    reasons,
    decode: decode && describeDecode(decode),
    ...(detail ? { body, body_sha256: bodySha256 } : {}),
  };
}

function scopeConditions(principal: Principal): SQL[] {
  const conditions: SQL[] = [];
  if (principal.appIds) conditions.push(inArray(postbacks.appId, principal.appIds));
  if (principal.adNetworkIds) conditions.push(inArray(postbacks.adNetworkId, principal.adNetworkIds));
  return conditions;
}

const PostbackSchema = z.object({ id: z.number().int(), received_at: z.string(), signature: z.string(), outcome: z.string() }).passthrough().openapi('Postback');

export function postbackRoutes(app: V1App, deps: V1Deps): void {
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/v1/postbacks',
    summary: 'Stored postbacks, newest last; format=ndjson exports {"received_at","raw","body"} lines that `skanpost import` takes back (raw: the body as stored)',
    security: bearer,
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
  app.get('/v1/postbacks', requireRole('analyst', deps), async (c) => {
    const parsed = ListParams.safeParse(c.req.query());
    if (!parsed.success) return invalidQuery(c as unknown as Context, parsed.error);
    const p = parsed.data;
    const principal = c.get('principal');
    let appIds: number[] | undefined;
    let networks: string[] | undefined;
    try {
      // As in reports: asking outside the key's scope is refused, not answered with nothing.
      appIds = withinScope('app_id', p.app_id, principal.appIds) as number[] | undefined;
      networks = withinScope('ad_network_id', p.ad_network_id, principal.adNetworkIds) as string[] | undefined;
    } catch (error) {
      if (error instanceof ScopeError) return problem(c as unknown as Context, 403, 'out_of_scope', 'Forbidden', { detail: error.message });
      throw error;
    }
    const conditions: SQL[] = [];
    if (appIds) conditions.push(inArray(postbacks.appId, appIds));
    if (networks) conditions.push(inArray(postbacks.adNetworkId, networks));
    if (p.protocol) conditions.push(inArray(postbacks.protocol, p.protocol));
    if (p.environment) conditions.push(inArray(postbacks.environment, p.environment));
    if (p.signature) conditions.push(inArray(postbacks.signature, p.signature));
    if (p.outcome) conditions.push(inArray(postbacks.outcome, p.outcome));
    if (p.since) conditions.push(gte(postbacks.receivedAt, new Date(p.since)));
    if (p.until) conditions.push(lt(postbacks.receivedAt, new Date(p.until)));
    const page = (after: number, size: number) =>
      deps.db.select().from(postbacks).where(and(gt(postbacks.id, after), ...conditions)).orderBy(asc(postbacks.id)).limit(size);

    if (p.format === 'ndjson') {
      const encoder = new TextEncoder();
      let after = p.cursor ?? 0;
      let left = p.limit ?? Number.POSITIVE_INFINITY;
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const rows = left > 0 ? await page(after, Math.min(1000, left)) : [];
          if (rows.length === 0) return controller.close();
          after = rows.at(-1)!.id;
          left -= rows.length;
          // `raw` is the body exactly as stored: re-serializing `body` would turn 5.0 into 5 and
          // 1e400 into null. `body` stays for people and for scripts that read it.
          controller.enqueue(encoder.encode(rows.map((r) => `${JSON.stringify({ received_at: r.receivedAt.toISOString(), raw: r.body, body: JSON.parse(r.body) })}\n`).join('')));
        },
      });
      return c.body(stream, 200, { 'Content-Type': 'application/x-ndjson; charset=utf-8' });
    }
    const limit = p.limit ?? 100;
    const rows = await page(p.cursor ?? 0, limit);
    return c.json({ postbacks: rows.map((r) => describePostback(r, false)), next_cursor: rows.length === limit ? rows.at(-1)!.id : null });
  });

  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/v1/postbacks/{id}',
    summary: 'One postback: raw body, fields, verdict, reasons, decode',
    security: bearer,
    request: { params: z.object({ id: z.string() }) },
    responses: { 200: { description: 'The postback', content: { 'application/json': { schema: PostbackSchema } } }, ...errorResponses(401, 403, 404) },
  });
  app.get('/v1/postbacks/:id', requireRole('analyst', deps), async (c) => {
    const id = intParam(c as unknown as Context, 'id');
    const notFound = () => problem(c as unknown as Context, 404, 'not_found', 'Not Found', { detail: `no postback ${c.req.param('id')}` });
    if (id === undefined) return notFound();
    const [row] = await deps.db.select().from(postbacks).where(and(eq(postbacks.id, id), ...scopeConditions(c.get('principal'))));
    return row ? c.json(describePostback(row, true)) : notFound();
  });
}
