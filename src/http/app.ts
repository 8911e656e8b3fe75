// createApp(deps): the Hono application shared by the Node server, the Worker and the tests.
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { swaggerUI } from '@hono/swagger-ui';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import { StorageUnavailableError, type Db } from '../db/db.js';
import type { ReportPart } from '../db/reports.js';
import type { IngestDeps } from '../ingest/ingest.js';
import type { ReportQuery } from '../report/query.js';
import { INGEST_PATHS } from './routes/ingest.js';
import { requireRole, type AuthEnv } from './auth.js';
import type { RateLimiter, parseAllowlist } from './client-guard.js';
import { IngestMetrics } from '../observability/metrics.js';
import { problem } from './problem.js';
import { deliveryGauges, errorResponses } from './routes/common.js';
import { forwardingRoutes } from './routes/forwarding.js';
import { ingestRoutes } from './routes/ingest.js';
import { postbackRoutes } from './routes/postbacks.js';
import { reportRoutes } from './routes/reports.js';
import { settingsRoutes } from './routes/settings.js';
import type { Logger } from '../observability/logger.js';
import { VERSION } from '../version.js';

export interface AppDeps extends IngestDeps {
  /** For reads (reports, listings); writes go through `writer`. */
  db: Db;
  /** SKANPOST_ADMIN_KEY: a bootstrap admin key, compared in constant time. */
  adminKey: string | undefined;
  /** Resolves true once migrations are applied and the database answers. */
  health: () => Promise<boolean>;
  /** Ingests in progress at once before 503 (default 2048). */
  maxInFlight?: number;
  /** Who may post and how often (docs/operations.md, "Running behind TLS"). */
  guard?: {
    allowlist: ReturnType<typeof parseAllowlist>;
    limiter?: RateLimiter;
    trustedHeader?: string;
    /** The connection's remote address, where the runtime knows it. */
    socketAddress?: (c: Context) => string | undefined;
  };
  /** Counters shared with a separate metrics listener, if the runtime has one. */
  metrics?: IngestMetrics;
  /**
   * Runs a report away from the thread that serves requests (Node: reader threads, the days split
   * among them); without it, reports run on `db` in process.
   */
  reports?: (query: ReportQuery, now: Date, fillingHorizonMs: number) => Promise<ReportPart[]>;
  /** Figures only the runtime knows (group commit, database size), as exposition text. */
  runtimeMetrics?: () => Promise<string>;
  logger: Logger;
}

/** Admin and analyst request bodies (schemas, mappings, keys) stay small. */
export const MAX_API_BODY_BYTES = 64 * 1024;

export const METRICS_TYPE = 'text/plain; version=0.0.4';

/** The exposition text, for GET /metrics and for a separate metrics listener. */
export async function renderMetrics(deps: AppDeps, metrics: IngestMetrics): Promise<string> {
  const runtime = (await deps.runtimeMetrics?.()) ?? '';
  return metrics.text(await deliveryGauges(deps.db)) + (runtime ? `\n${runtime}` : '');
}

export function createApp(deps: AppDeps): OpenAPIHono<AuthEnv> {
  const app = new OpenAPIHono<AuthEnv>();
  const metrics = deps.metrics ?? new IngestMetrics();
  // One line per request, never a body: method, path, status, time, and for ingest the verdict.
  app.use('*', async (c, next) => {
    const started = Date.now();
    await next();
    const receipt = c.get('receipt') as AuthEnv['Variables']['receipt'] | undefined;
    deps.logger.info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Date.now() - started,
      ...(receipt ? { outcome: receipt.outcome, signature: receipt.signature } : {}),
    });
  });
  app.use('*', secureHeaders());
  app.use('/v1/*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store'); // reports and keys are private
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'an API key (skanpost keys create) or SKANPOST_ADMIN_KEY' });
  ingestRoutes(app, deps, metrics);

  app.use('/v1/*', bodyLimit({ maxSize: MAX_API_BODY_BYTES, onError: (c) => problem(c, 413, 'body_too_large', 'Payload Too Large', { detail: `request bodies are limited to ${MAX_API_BODY_BYTES} bytes` }) }));
  const v1 = { db: deps.db, writer: deps.writer, now: deps.now, installModel: deps.installModel, adminKey: deps.adminKey, ...(deps.reports ? { reports: deps.reports } : {}) };
  reportRoutes(app, v1);
  postbackRoutes(app, v1);
  settingsRoutes(app, v1);
  forwardingRoutes(app, v1);

  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/healthz',
    summary: 'Ready: migrations applied and the database answers',
    responses: { 200: { description: 'Healthy', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } }, 503: { description: 'The database does not answer' } },
  });
  app.get('/healthz', async (c) => {
    const healthy = await deps.health().catch(() => false);
    return healthy ? c.json({ status: 'ok' }) : problem(c, 503, 'unhealthy', 'Service Unavailable', { detail: 'the database does not answer' });
  });

  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (admin key; or open on SKANPOST_METRICS_PORT when set)',
    security: [{ bearer: [] }],
    responses: { 200: { description: 'Text exposition format', content: { 'text/plain': { schema: z.string() } } }, ...errorResponses(401, 403) },
  });
  app.get('/metrics', requireRole('admin', { db: deps.db, adminKey: deps.adminKey }, { unscoped: true }), async (c) => c.body(await renderMetrics(deps, metrics), 200, { 'Content-Type': METRICS_TYPE }));

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'skanpost', version: VERSION, description: "Receiver and aggregator for Apple's SKAdNetwork and AdAttributionKit postbacks" },
  });
  app.get('/docs', swaggerUI({ url: '/openapi.json' }));

  app.notFound((c) => problem(c, 404, 'not_found', 'Not Found', { detail: `no route for ${c.req.method} ${c.req.path}` }));

  app.onError((error, c: Context) => {
    if (error instanceof StorageUnavailableError) {
      if (INGEST_PATHS.some((p) => c.req.path.startsWith(p))) metrics.rejected.inc({ reason: 'storage_unavailable' });
      deps.logger.warn('storage unavailable', { code: error.code, path: c.req.path });
      return problem(c, 503, 'storage_unavailable', 'Service Unavailable', { detail: 'the postback was not stored; retry later' }, { 'Retry-After': '5' });
    }
    deps.logger.error('unhandled error', { path: c.req.path, error: error instanceof Error ? error.stack : String(error) });
    return problem(c, 500, 'internal_error', 'Internal Server Error');
  });

  return app;
}
