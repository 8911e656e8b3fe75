// createApp: the Hono application the Node server, the Worker and the tests all serve. Built once;
// each request finds its dependencies on the context (`c.get('deps')`), so the Worker can build it
// once per isolate and hand it per-request bindings.
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { dashboardRoutes } from './dashboard/routes.js';
import type { AppDeps, AppEnv } from './deps.js';
import { answerError, validationHook } from './errors.js';
import { problem } from './problem.js';
import { campaignRoutes } from './routes/campaigns.js';
import { clickRoutes } from './routes/clicks.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { destinationRoutes } from './routes/destinations.js';
import { ingestRoutes } from './routes/ingest.js';
import { keyRoutes } from './routes/keys.js';
import { linkRoutes } from './routes/links.js';
import { mmpRoutes } from './routes/mmp.js';
import { postbackRoutes } from './routes/postbacks.js';
import { queueRoutes } from './routes/queue.js';
import { relayKeyRoutes } from './routes/relay-keys.js';
import { reportedRoutes } from './routes/reported.js';
import { reportRoutes } from './routes/reports.js';
import { schemaRoutes } from './routes/schemas.js';
import { shardRoutes } from './routes/shards.js';
import { systemRoutes } from './routes/system.js';
import { secure, securityHeaders } from './security.js';

/** Admin and analyst request bodies (schemas, mappings, keys) stay small. */
const MAX_API_BODY_BYTES = 64 * 1024;

/**
 * The dependencies: the same for every request (Node), or built for each from the bindings the
 * runtime hands the request (Workers: `app.fetch(request, bindings, ctx)`).
 */
export function createApp<Bindings = unknown>(source: AppDeps | ((bindings: Bindings) => AppDeps)): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.use('*', async (c, next) => {
    c.set('deps', typeof source === 'function' ? source(c.env as Bindings) : source);
    await next();
  });
  // One line per request, never a body: method, path, status, time, and for ingest the verdict.
  app.use('*', async (c, next) => {
    const started = Date.now();
    await next();
    const receipt = c.get('receipt');
    c.get('deps').logger.info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Date.now() - started,
      ...(receipt ? { outcome: receipt.outcome, signature: receipt.signature } : {}),
    });
  });
  // Not on click and impression answers: a 302 or 204 without a body has nothing those headers
  // protect, and setting them after the handler halved the throughput of a bare redirect (BENCHMARKS.md).
  void securityHeaders();
  app.use('*', (c, next) => (/^\/[ci]\//.test(c.req.path) ? next() : secure(c, next)));
  app.use('/v1/*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store'); // reports and keys are private
  });
  const apiBodyLimit = bodyLimit({
    maxSize: MAX_API_BODY_BYTES,
    onError: (c) => problem(c, 413, 'body_too_large', 'Payload Too Large', { detail: `request bodies are limited to ${MAX_API_BODY_BYTES} bytes` }),
  });
  // Click imports (4 MiB) and uploads of reported figures (8 MiB) set their own limits.
  const ownLimits = new Set(['/v1/clicks', '/v1/reported']);
  app.use('/v1/*', (c, next) => (ownLimits.has(c.req.path) ? next() : apiBodyLimit(c, next)));

  // First: its session middleware gives /dashboard/api's report routes (registered below) their principal.
  dashboardRoutes(app);
  ingestRoutes(app);
  reportRoutes(app);
  postbackRoutes(app);
  schemaRoutes(app);
  campaignRoutes(app);
  keyRoutes(app);
  relayKeyRoutes(app);
  reportedRoutes(app);
  destinationRoutes(app);
  linkRoutes(app);
  clickRoutes(app);
  mmpRoutes(app);
  deliveryRoutes(app);
  queueRoutes(app);
  shardRoutes(app);
  systemRoutes(app);

  app.notFound((c) => problem(c, 404, 'not_found', 'Not Found', { detail: `no route for ${c.req.method} ${c.req.path}` }));
  app.onError(answerError);
  return app;
}
