// GET /v1/reports/campaigns and /v1/reports/events: aggregates by any dimensions, JSON or CSV.
import type { Context } from 'hono';
import { z } from '@hono/zod-openapi';
import { fillingHorizonMs } from '../../conversion/install-date.js';
import { renderReportPart, reportBody, ReportTooLargeError } from '../../db/reports.js';
import { CAMPAIGN_METRICS, DIMENSIONS, EVENT_METRICS } from '../../report/dimensions.js';
import { parseReportQuery, ReportParamError, type ReportQuery } from '../../report/query.js';
import { requireRole, ScopeError, withinScope, type AuthEnv } from '../auth.js';
import { problem } from '../problem.js';
import { bearer, errorResponses, type V1App, type V1Deps } from './common.js';

const filterDocs = Object.fromEntries(
  DIMENSIONS.filter((d) => d.type !== 'date').map((d) => [d.name, z.string().optional().openapi({ description: `filter: comma-separated values${d.values ? ` (${d.values.join(', ')})` : ''}; \`null\` for absent` })]),
);

const ReportParams = z.object({
  from: z.string().optional().openapi({ description: 'first day, YYYY-MM-DD in tz (default: 6 days before to)' }),
  to: z.string().optional().openapi({ description: 'last day, YYYY-MM-DD in tz, inclusive (default: today)' }),
  tz: z.string().optional().openapi({ description: 'IANA time zone (default UTC)' }),
  date_basis: z.enum(['arrival', 'install']).optional(),
  group_by: z.string().optional().openapi({ description: `comma-separated: ${DIMENSIONS.map((d) => d.name).join(', ')}` }),
  format: z.enum(['json', 'csv']).optional(),
  ...filterDocs,
});

const reportResponse = (metrics: readonly string[]) => ({
  description: 'Report rows: the group_by dimensions, then the metrics in a fixed order; CSV has the same columns',
  content: {
    'application/json': {
      schema: z.object({
        rows: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))).openapi({ description: `metrics: ${metrics.join(', ')}` }),
        meta: z.object({ from: z.string(), to: z.string(), tz: z.string(), date_basis: z.string(), group_by: z.array(z.string()), generated_at: z.string(), complete: z.boolean() }),
      }),
    },
    'text/csv': { schema: z.string() },
  },
});

/** A key's scope becomes mandatory app_id / ad_network_id filters. */
function applyScope(query: ReportQuery, principal: AuthEnv['Variables']['principal']): void {
  for (const [name, scope] of [['app_id', principal.appIds], ['ad_network_id', principal.adNetworkIds]] as const) {
    if (!scope) continue;
    const existing = query.filters.find((f) => f.dim.name === name);
    const values = withinScope(name, existing?.values as Array<string | number | null> | undefined, scope as Array<string | number>)!;
    if (existing) existing.values = values;
    else query.filters.push({ dim: DIMENSIONS.find((d) => d.name === name)!, values });
  }
}

export function reportRoutes(app: V1App, deps: V1Deps): void {
  for (const kind of ['campaigns', 'events'] as const) {
    const path = `/v1/reports/${kind}`;
    app.openAPIRegistry.registerPath({
      method: 'get',
      path,
      summary: kind === 'campaigns' ? 'Campaign-level aggregates' : 'Decoded events (dimension `event`; metrics count_min, count_max)',
      security: bearer,
      request: { query: ReportParams },
      responses: { 200: reportResponse(kind === 'campaigns' ? CAMPAIGN_METRICS : EVENT_METRICS), ...errorResponses(400, 401, 403) },
    });
    app.get(path, requireRole('analyst', deps), async (c) => {
      let query: ReportQuery;
      try {
        query = parseReportQuery(new URL(c.req.url).searchParams, kind, deps.now());
        applyScope(query, c.get('principal'));
      } catch (error) {
        if (error instanceof ReportParamError) return problem(c as unknown as Context, 400, 'invalid_parameter', 'Bad Request', { detail: error.message, parameter: error.param });
        if (error instanceof ScopeError) return problem(c as unknown as Context, 403, 'out_of_scope', 'Forbidden', { detail: error.message });
        throw error;
      }
      const now = deps.now();
      const horizonMs = fillingHorizonMs(deps.installModel);
      let body: string;
      try {
        const parts = deps.reports ? await deps.reports(query, now, horizonMs) : [await renderReportPart(deps.db, query, now, horizonMs)];
        body = reportBody(query, now, parts);
      } catch (error) {
        if (error instanceof ReportTooLargeError) return problem(c as unknown as Context, 400, 'too_many_rows', 'Bad Request', { detail: error.message });
        throw error;
      }
      if (query.format === 'csv') {
        return c.body(body, 200, {
          'Content-Type': 'text/csv; charset=utf-8; header=present',
          'Content-Disposition': `attachment; filename="skanpost-${kind}-${query.from}-${query.to}.csv"`,
        });
      }
      return c.body(body, 200, { 'Content-Type': 'application/json' });
    });
  }
}
