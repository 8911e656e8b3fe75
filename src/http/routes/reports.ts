// GET /v1/reports/campaigns, /v1/reports/events and /v1/reports/mmp: aggregates by any dimensions, JSON or CSV.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { DEFAULT_DISCREPANCY_THRESHOLD_PCT } from '../../config.js';
import { fillingHorizonMs } from '../../conversion/install-date.js';
import type { Db } from '../../db/db.js';
import { campaignMappings } from '../../db/reported.js';
import { buildCopyQuery, COPY_METRICS, type CopyParams, copyParams } from '../../report/copies.js';
import { dimensionByName, type ParamKind } from '../../report/dimensions.js';
import { buildDiscrepancyQuery, DISCREPANCY_STATUSES, type DiscrepancyParams, discrepancyParams } from '../../report/discrepancies.js';
import { CAMPAIGN_METRICS, EVENT_METRICS, type Metric, MMP_METRICS, metricNames } from '../../report/metrics.js';
import { buildReportQuery, paramError, type ReportQuery, reportParams } from '../../report/query.js';
import { renderReportPart, reportBody } from '../../report/render.js';
import { renderWhole, type WholeJob } from '../../report/whole.js';
import { requireRole, withinScope } from '../auth.js';
import { type AppDeps, type AppEnv, type Principal, shardsOf } from '../deps.js';
import { bearer, errorResponses } from '../openapi.js';

const reportResponse = (metrics: readonly Metric[]) => ({
  description: 'Report rows: the group_by dimensions, then the metrics in a fixed order; CSV has the same columns',
  content: {
    'application/json': {
      schema: z.object({
        rows: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))).openapi({ description: `metrics: ${metricNames(metrics).join(', ')}` }),
        meta: z.object({
          from: z.string(),
          to: z.string(),
          tz: z.string(),
          date_basis: z.string(),
          group_by: z.array(z.string()),
          generated_at: z.string(),
          complete: z.boolean(),
        }),
      }),
    },
    'text/csv': { schema: z.string() },
  },
});

/**
 * Every report is served twice by the same handler: to API keys under /v1 and to a signed-in
 * dashboard session (which sets the principal) under /dashboard/api, so the dashboard's CSV is the
 * API's byte for byte.
 */
const REPORT_BASES = ['/v1/reports', '/dashboard/api/reports'] as const;

/** A key's scope becomes mandatory app_id / ad_network_id filters. */
function applyScope(query: ReportQuery<ParamKind>, principal: Principal): void {
  for (const [name, scope] of [
    ['app_id', principal.appIds],
    ['ad_network_id', principal.adNetworkIds],
  ] as const) {
    if (!scope) continue;
    const existing = query.filters.find((f) => f.dim.name === name);
    const values = withinScope(name, existing?.values as Array<string | number | null> | undefined, scope as Array<string | number>)!;
    if (existing) existing.values = values;
    else query.filters.push({ dim: dimensionByName(name, query.kind)!, values });
  }
}

export function reportRoutes(app: OpenAPIHono<AppEnv>): void {
  const SUMMARIES = {
    campaigns: 'Campaign-level aggregates',
    events: 'Decoded events (dimension `event`; metrics count_min, count_max)',
    mmp: 'MMP figures: clicks, impressions, installs, events, revenue, outcomes and click-to-install times (date_basis event, click or arrival)',
  } as const;
  const METRICS = { campaigns: CAMPAIGN_METRICS, events: EVENT_METRICS, mmp: MMP_METRICS } as const;
  for (const [kind, base] of (['campaigns', 'events', 'mmp'] as const).flatMap((k) => REPORT_BASES.map((b) => [k, b] as const))) {
    const route = createRoute({
      method: 'get',
      path: `${base}/${kind}`,
      hide: base !== REPORT_BASES[0],
      summary: SUMMARIES[kind],
      security: bearer,
      middleware: [requireRole('analyst')] as const,
      request: { query: reportParams(kind) },
      responses: { 200: reportResponse(METRICS[kind]), ...errorResponses(400, 401, 403) },
    });
    app.openapi(
      route,
      async (c) => {
        const deps = c.get('deps');
        const now = deps.now();
        const query = buildReportQuery(c.req.valid('query'), kind, now);
        applyScope(query, c.get('principal'));
        const horizonMs = fillingHorizonMs(deps.installModel);
        const parts = deps.reports ? await deps.reports(query, now, horizonMs) : [await renderReportPart(await reportShards(deps, query), query, now, horizonMs)];
        return answer(c, kind, query, reportBody(query, now, parts));
      },
      // A bad parameter names itself, with the report's own wording ("unknown dimension …").
      (result) => {
        if (!result.success) throw paramError(result.error);
        return undefined;
      },
    );
  }

  wholeReportRoute(app, {
    name: 'discrepancies',
    summary: 'SKAN, MMP and uploaded figures side by side, each compared with a reference source (docs/discrepancies.md)',
    columns: `the figures of every source, their gaps to the reference, and status (${DISCREPANCY_STATUSES.join(', ')})`,
    params: discrepancyParams(),
    job: async (params, deps, now) => {
      const query = buildDiscrepancyQuery(params as DiscrepancyParams, now, deps.discrepancyThresholdPct ?? DEFAULT_DISCREPANCY_THRESHOLD_PCT, await campaignMappings(deps.db));
      return { kind: 'discrepancies', query, fillingHorizonMs: fillingHorizonMs(deps.installModel) };
    },
  });
  wholeReportRoute(app, {
    name: 'copies',
    summary: "Copy reconciliation: Apple's developer copies received directly against those networks relayed (docs/discrepancies.md)",
    columns: COPY_METRICS.join(', '),
    params: copyParams(),
    job: async (params, deps, now) => ({ kind: 'copies', query: buildCopyQuery(params as CopyParams, now, deps.discrepancyThresholdPct ?? DEFAULT_DISCREPANCY_THRESHOLD_PCT) }),
  });
}

/** A report computed in one piece (discrepancies, copies): its route, scoped as every report. */
function wholeReportRoute(
  app: OpenAPIHono<AppEnv>,
  report: { name: WholeJob['kind']; summary: string; columns: string; params: z.ZodType; job: (params: unknown, deps: AppDeps, now: Date) => Promise<WholeJob> },
): void {
  for (const base of REPORT_BASES) wholeReportAt(app, base, report);
}

function wholeReportAt(app: OpenAPIHono<AppEnv>, base: string, report: Parameters<typeof wholeReportRoute>[1]): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: `${base}/${report.name}`,
      hide: base !== REPORT_BASES[0],
      summary: report.summary,
      security: bearer,
      middleware: [requireRole('analyst')] as const,
      request: { query: report.params as z.ZodObject },
      responses: {
        200: {
          description: `One row per group: ${report.columns}; CSV has the same columns`,
          content: {
            'application/json': { schema: z.object({ rows: z.array(z.record(z.string(), z.unknown())), meta: z.record(z.string(), z.unknown()) }) },
            'text/csv': { schema: z.string() },
          },
        },
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const deps = c.get('deps');
      const now = deps.now();
      const job = await report.job(c.req.valid('query'), deps, now);
      applyScope(job.query.base, c.get('principal'));
      const body = deps.wholeReports ? await deps.wholeReports(job, now) : await renderWhole(await reportShards(deps, job.query.base), job, now);
      return answer(c, report.name, job.query.base, body);
    },
    (result) => {
      if (!result.success) throw paramError(result.error);
      return undefined;
    },
  );
}

/** A report's body, as JSON or as a CSV download. */
function answer(c: Context, name: string, query: ReportQuery<ParamKind>, body: string) {
  if (query.format === 'csv') {
    return c.body(body, 200, {
      'Content-Type': 'text/csv; charset=utf-8; header=present',
      'Content-Disposition': `attachment; filename="skanpost-${name}-${query.from}-${query.to}.csv"`,
    });
  }
  return c.body(body, 200, { 'Content-Type': 'application/json' });
}

/** The databases a report reads: the shards holding the apps it is filtered or scoped to, else every one. */
async function reportShards(deps: AppDeps, query: Pick<ReportQuery, 'filters'>): Promise<Db[]> {
  const apps = query.filters.find((f) => f.dim.name === 'app_id')?.values.filter((v): v is number => typeof v === 'number');
  const shards = shardsOf(deps);
  const held = await shards.holding(apps ?? null);
  // Apps never seen: asked of one shard all the same, so the answer has the shape of an empty one.
  return (held.length ? held : shards.all.slice(0, 1)).map((s) => s.db);
}
