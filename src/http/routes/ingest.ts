// The ingest endpoints: open (Apple cannot authenticate), guarded by address and rate, limited
// in size and concurrency, answered with the receipt of what was kept.
import { z } from '@hono/zod-openapi';
import type { Context, Next } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ingestPostback, MAX_POSTBACK_BYTES } from '../../ingest/ingest.js';
import type { AppDeps } from '../app.js';
import type { AuthEnv } from '../auth.js';
import { allowed, clientAddress } from '../client-guard.js';
import type { IngestMetrics } from '../../observability/metrics.js';
import { problem } from '../problem.js';
import { errorResponses, ProblemSchema, type V1App } from './common.js';

export const INGEST_PATHS = ['/.well-known/skadnetwork/report-attribution', '/.well-known/appattribution/report-attribution'];

const ReceiptSchema = z
  .object({
    id: z.number().int(),
    outcome: z.enum(['stored', 'duplicate', 'conflict']),
    signature: z.enum(['verified', 'invalid', 'unverifiable', 'development']),
    reasons: z.array(z.string()),
  })
  .openapi('Receipt');

const tooLargeProblem = (c: Context) =>
  problem(c, 413, 'body_too_large', 'Payload Too Large', { detail: `postback bodies are limited to ${MAX_POSTBACK_BYTES} bytes` });

export function ingestRoutes(app: V1App, deps: AppDeps, metrics: IngestMetrics): void {
  const maxInFlight = deps.maxInFlight ?? 2048;
  let inFlight = 0;

  const tooLarge = bodyLimit({
    maxSize: MAX_POSTBACK_BYTES,
    onError: (c) => {
      metrics.rejected.inc({ reason: 'body_too_large' });
      return tooLargeProblem(c);
    },
  });

  // hono's bodyLimit reads `c.req.raw.body`, and on Node that makes @hono/node-server build a
  // whole fetch Request (a web stream, an AbortController) for each postback. A declared length
  // is enforced by the HTTP parser itself, so only bodies without one are counted as they stream.
  const limit = async (c: Context, next: Next) => {
    const declared = c.req.header('content-length');
    if (declared === undefined || c.req.header('transfer-encoding') !== undefined) return tooLarge(c, next);
    if (Number(declared) > MAX_POSTBACK_BYTES) {
      metrics.rejected.inc({ reason: 'body_too_large' });
      return tooLargeProblem(c);
    }
    return next();
  };

  // Runs before the body is read, so a refused client costs next to nothing.
  const guard = async (c: Context, next: Next) => {
    const g = deps.guard;
    if (!g) return next();
    const address = clientAddress(c.req.raw.headers, g.socketAddress?.(c), g.trustedHeader);
    if (!allowed(address, g.allowlist)) {
      metrics.rejected.inc({ reason: 'not_allowed' });
      return problem(c, 403, 'not_allowed', 'Forbidden', { detail: 'this address may not post here' });
    }
    const wait = address && g.limiter ? g.limiter.take(address, Date.now()) : undefined;
    if (wait !== undefined) {
      metrics.rejected.inc({ reason: 'rate_limited' });
      return problem(c, 429, 'rate_limited', 'Too Many Requests', { detail: 'too many postbacks from this address; retry later' }, { 'Retry-After': String(wait) });
    }
    return next();
  };

  for (const path of INGEST_PATHS) {
    app.openAPIRegistry.registerPath({
      method: 'post',
      path: `${path}/`,
      summary: 'Receive a postback (SKAdNetwork or AdAttributionKit; also without the trailing slash). Open: Apple cannot authenticate.',
      request: { body: { content: { 'application/json': { schema: z.object({}).passthrough().openapi({ description: 'the postback as Apple sends it, at most 16 KiB; Content-Type is not checked' }) } } } },
      responses: {
        200: { description: 'Kept (or a duplicate of a kept body)', content: { 'application/json': { schema: ReceiptSchema } } },
        ...errorResponses(400, 413),
        405: { description: 'Only POST', content: { 'application/problem+json': { schema: ProblemSchema } } },
        503: { description: 'Not stored; retry after Retry-After seconds', content: { 'application/problem+json': { schema: ProblemSchema } } },
      },
    });
  }
  for (const path of INGEST_PATHS.flatMap((p) => [p, `${p}/`])) {
    app.post(path, guard, limit, async (c) => {
      const started = performance.now();
      const response = await ingest(c);
      metrics.duration.observe((performance.now() - started) / 1000);
      if (response.status !== 200) metrics.rejected.inc({ reason: response.status === 413 ? 'body_too_large' : response.status === 400 ? 'invalid_postback' : 'overloaded' });
      return response;
    });
    app.all(path, (c) => {
      metrics.rejected.inc({ reason: 'method_not_allowed' });
      return problem(c, 405, 'method_not_allowed', 'Method Not Allowed', { detail: 'postbacks are sent with POST' }, { Allow: 'POST' });
    });
  }

  async function ingest(c: Context<AuthEnv>): Promise<Response> {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    // bodyLimit trusts a Content-Length it is given; the body as read is what counts.
    if (bytes.byteLength > MAX_POSTBACK_BYTES) return tooLargeProblem(c);
    // Under a flood, refuse early and cheaply: Apple's devices retry a 503 later.
    if (inFlight >= maxInFlight) {
      return problem(c, 503, 'overloaded', 'Service Unavailable', { detail: 'too many postbacks in progress; retry later' }, { 'Retry-After': '1' });
    }
    inFlight++;
    let result;
    try {
      result = await ingestPostback(bytes, deps);
    } finally {
      inFlight--;
    }
    if (!result.ok) {
      return problem(c, 400, 'invalid_postback', 'Bad Request', {
        detail: 'the body cannot be kept as a postback; nothing was stored',
        problems: result.problems,
      });
    }
    metrics.ingested.inc({ outcome: result.receipt.outcome, signature: result.receipt.signature });
    c.set('receipt', result.receipt);
    return c.json(result.receipt);
  }
}
