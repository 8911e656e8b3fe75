// Health, metrics, and the API's own description (the OpenAPI document and its viewer).
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { deliveryCounts } from '../../db/outbox.js';
import type { Gauge } from '../../observability/metrics.js';
import { VERSION } from '../../version.js';
import { requireRole } from '../auth.js';
import { dashboardSecurity, serveAsset } from '../dashboard/routes.js';
import { type AppDeps, type AppEnv, shardsOf } from '../deps.js';
import { bearer, errorResponses, json, ProblemSchema } from '../openapi.js';
import { problem } from '../problem.js';

export const METRICS_TYPE = 'text/plain; version=0.0.4';

/** The exposition text, for GET /metrics and for a separate metrics listener. */
export async function renderMetrics(deps: AppDeps): Promise<string> {
  const outbox: Gauge = {
    name: 'skanpost_forwarding_deliveries',
    help: 'Copies in the outbox by destination and state (pending, delivered, dead)',
    samples: (await deliveryCounts(deps.db, shardsOf(deps).all)).map((r) => ({ labels: { destination: String(r.destination), name: r.name, state: r.state }, value: r.n })),
  };
  const runtime = (await deps.runtimeMetrics?.()) ?? '';
  return deps.metrics.text([outbox]) + (runtime ? `\n${runtime}` : '');
}

export function systemRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      summary: 'Ready: migrations applied and the database answers',
      responses: { 200: json('Healthy', z.object({ status: z.literal('ok') })), 503: { description: 'The database does not answer' } },
    }),
    async (c) => {
      const healthy = await c
        .get('deps')
        .health()
        .catch(() => false);
      return healthy ? c.json({ status: 'ok' as const }, 200) : problem(c, 503, 'unhealthy', 'Service Unavailable', { detail: 'the database does not answer' });
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics (admin key; or open on SKANPOST_METRICS_PORT when set)',
      security: bearer,
      middleware: [requireRole('admin', { unscoped: true })] as const,
      responses: { 200: { description: 'Text exposition format', content: { 'text/plain': { schema: z.string() } } }, ...errorResponses(401, 403) },
    }),
    async (c) => c.text(await renderMetrics(c.get('deps')), 200, { 'Content-Type': METRICS_TYPE }),
  );

  app.openAPIRegistry.register('Problem', ProblemSchema);
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'an API key (skanpost keys create) or SKANPOST_ADMIN_KEY' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'skanpost', version: VERSION, description: "Receiver and aggregator for Apple's SKAdNetwork and AdAttributionKit postbacks" },
  });
  // Swagger UI from skanpost's own origin (swagger-ui-dist), under the dashboard's CSP: no CDN, no inline script.
  app.use('/docs', dashboardSecurity);
  app.use('/docs/*', dashboardSecurity);
  app.get('/docs', (c) =>
    c.html(
      '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>skanpost API</title><link rel="icon" href="data:,">' +
        '<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head><body><div id="swagger-ui"></div>' +
        '<script src="/docs/assets/swagger-ui-bundle.js"></script><script src="/docs/assets/docs.js"></script></body></html>',
    ),
  );
  app.get('/docs/assets/:name', (c) => serveAsset(c, `docs/assets/${c.req.param('name')}`));
}
