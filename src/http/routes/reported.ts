// Figures reported elsewhere: uploaded (JSON or CSV, all or nothing), listed, deleted.
// docs/discrepancies.md says how the discrepancy report compares them.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteReported, listReported, type ReportedFilter, reportedStatements } from '../../db/reported.js';
import type { ReportedFigureRow } from '../../db/schema.js';
import { groupByShard, pageAcross } from '../../db/shards.js';
import { isDay } from '../../report/query.js';
import { MAX_REPORTED_BYTES, MAX_REPORTED_ROWS, parseUpload, REPORTED_METRICS, ReportedFigureInput, storedFigure } from '../../report/reported.js';
import { insideScope, requireRole, withinScope } from '../auth.js';
import { type AppEnv, type Principal, shardsOf } from '../deps.js';
import { InvalidParameterError, ScopeError } from '../errors.js';
import { AppIds, anyJson, bearer, Count, errorResponses, List, oneOf } from '../openapi.js';
import { problem } from '../problem.js';

const Day = (name: string) => z.string().refine(isDay, `${name} must be a day as YYYY-MM-DD`);

const ReportedParams = z
  .object({
    source: List.pipe(z.array(z.string()).min(1)).optional(),
    app_id: AppIds.optional(),
    ad_network_id: List.pipe(z.array(z.string()).min(1)).optional(),
    metric: oneOf(REPORTED_METRICS),
    from: Day('from').optional().openapi({ description: 'first day as uploaded, YYYY-MM-DD' }),
    to: Day('to').optional().openapi({ description: 'last day as uploaded, YYYY-MM-DD, inclusive' }),
    cursor: Count.optional().openapi({ description: 'next_cursor of the previous page' }),
    limit: Count.pipe(z.number().int().min(1).max(1000)).optional().openapi({ description: 'rows per page (default 100, at most 1000)' }),
  })
  .strict();

const DeleteParams = z
  .object({
    source: z.string().min(1).openapi({ description: 'the source whose rows go (required)' }),
    from: Day('from').optional(),
    to: Day('to').optional(),
    app_id: AppIds.optional(),
    ad_network_id: List.pipe(z.array(z.string()).min(1)).optional(),
  })
  .strict();

const describe = (r: ReportedFigureRow) => ({
  id: r.id,
  source: r.source,
  date: r.date,
  tz: r.tz,
  app_id: r.appId,
  ad_network_id: r.adNetworkId,
  campaign: r.campaign || null,
  network_campaign_id: r.networkCampaignId || null,
  metric: r.metric,
  event: r.event || null,
  value: r.value,
  currency: r.currency || null,
  uploaded_at: r.uploadedAt.toISOString(),
});

/** The key's scope as mandatory filters, and the asked-for ones within it. */
const scoped = (principal: Principal, p: { app_id?: number[] | undefined; ad_network_id?: string[] | undefined }): Pick<ReportedFilter, 'appIds' | 'adNetworkIds'> => ({
  appIds: withinScope('app_id', p.app_id, principal.appIds) as number[] | undefined,
  adNetworkIds: withinScope('ad_network_id', p.ad_network_id, principal.adNetworkIds) as string[] | undefined,
});

/** CSV when the request says so, or when it does not say and the body is not a JSON array. */
const isCsv = (c: Context, text: string) => {
  const type = c.req.header('Content-Type') ?? '';
  if (/^text\/csv/i.test(type)) return true;
  if (/json/i.test(type)) return false;
  return !text.trimStart().startsWith('[');
};

const tooLarge = (c: Context) => problem(c, 413, 'body_too_large', 'Payload Too Large', { detail: `uploads are limited to ${MAX_REPORTED_BYTES} bytes; split the file` });

export function reportedRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.register('ReportedFigure', ReportedFigureInput);
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/reported',
      summary: `Upload figures reported elsewhere: a JSON array or CSV with a header row, at most ${MAX_REPORTED_ROWS.toLocaleString('en')} rows and 8 MiB; all or nothing, a row of the same key replaces the stored one`,
      security: bearer,
      middleware: [requireRole('admin'), bodyLimit({ maxSize: MAX_REPORTED_BYTES, onError: tooLarge })] as const,
      // Documented, read by hand: problems are named by line, which a schema cannot do.
      request: {
        body: {
          content: {
            'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/ReportedFigure' } } },
            'text/csv': { schema: { type: 'string', description: 'a header row naming the fields of ReportedFigure (any order), then one row per figure' } },
          },
          required: true,
        },
      },
      responses: { 200: anyJson('{"received", "stored"}'), ...errorResponses(400, 401, 403, 413) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const text = await c.req.text();
      if (new TextEncoder().encode(text).byteLength > MAX_REPORTED_BYTES) {
        return tooLarge(c) as never;
      }
      const parsed = parseUpload(text, isCsv(c, text));
      if (!parsed.ok) {
        return problem(c, 400, 'invalid_body', 'Bad Request', { detail: `${parsed.detail}; nothing was stored`, problems: parsed.problems, problems_total: parsed.total }) as never;
      }
      const principal = c.get('principal');
      const outside = parsed.rows.find((r) => !insideScope(principal, { appIds: [r.app_id], adNetworkIds: [r.ad_network_id] }));
      if (outside) throw new ScopeError(`this key may not upload figures of app ${outside.app_id} and network ${outside.ad_network_id}; nothing was stored`);
      const rows = parsed.rows.map(storedFigure);
      // One write per shard: a failure there is a 503, and uploading the file again replaces what went in.
      for (const [shard, group] of await groupByShard(shardsOf(deps), rows, (r) => r.appId)) {
        await shard.writer.run((tx) => tx.batch(reportedStatements(tx.db, group, deps.now())));
      }
      return c.json({ received: rows.length, stored: rows.length }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/reported',
      summary: 'Uploaded figures, oldest upload first, a page at a time',
      security: bearer,
      middleware: [requireRole('analyst')] as const,
      request: { query: ReportedParams },
      responses: {
        200: {
          description: 'A page',
          content: { 'application/json': { schema: z.object({ reported: z.array(z.object({}).passthrough()), next_cursor: z.number().int().nullable() }) } },
        },
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const p = c.req.valid('query');
      const filter: ReportedFilter = { ...scoped(c.get('principal'), p), sources: p.source, metrics: p.metric, from: p.from, to: p.to };
      const limit = p.limit ?? 100;
      const over = await shardsOf(c.get('deps')).holding(filter.appIds ?? null);
      const rows = await pageAcross<ReportedFigureRow>(over, p.cursor ?? 0, limit, (shard, local, n) => listReported(shard.db, filter, local, n));
      return c.json({ reported: rows.map(describe), next_cursor: rows.length === limit ? rows.at(-1)!.id : null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/reported',
      summary: "Delete a source's uploaded figures, of the days from..to (inclusive) when given",
      security: bearer,
      middleware: [requireRole('admin')] as const,
      request: { query: DeleteParams },
      responses: { 200: anyJson('{"deleted"}'), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const p = c.req.valid('query');
      if (p.from && p.to && p.to < p.from) throw new InvalidParameterError('to', 'to must not be before from');
      const deps = c.get('deps');
      const filter: ReportedFilter = { ...scoped(c.get('principal'), p), sources: [p.source], from: p.from, to: p.to };
      let deleted = 0;
      for (const shard of await shardsOf(deps).holding(filter.appIds ?? null)) deleted += await shard.writer.run((tx) => deleteReported(tx.db, filter));
      return c.json({ deleted }, 200);
    },
  );
}
