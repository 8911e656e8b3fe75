// The ingest endpoints: open (Apple cannot authenticate), guarded by address and rate, limited
// in size and concurrency, answered with the receipt of what was kept.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, Next } from 'hono';
import { StorageUnavailableError } from '../../db/db.js';
import { findRelayKey } from '../../db/relay-keys.js';
import { ingestPostback } from '../../ingest/ingest.js';
import { inRanges } from '../../model/cidr.js';
import type { IngestRejectReason } from '../../observability/metrics.js';
import { MAX_POSTBACK_BYTES } from '../../postback/read.js';
import { clientAddress, limitBody } from '../client-guard.js';
import type { AppEnv } from '../deps.js';
import { errorResponses } from '../openapi.js';
import { problem } from '../problem.js';
import { rateLimit } from '../rate-limit.js';
import { securedJson } from '../security.js';

const INGEST_PATHS = ['/.well-known/skadnetwork/report-attribution', '/.well-known/appattribution/report-attribution'];

const ReceiptSchema = z
  .object({
    id: z.number().int().nullable().openapi({ description: 'null when queued (SKANPOST_INGEST_MODE=queue): the consumer writes it' }),
    outcome: z.enum(['stored', 'duplicate', 'conflict', 'queued']),
    signature: z.enum(['verified', 'invalid', 'unverifiable', 'development']),
    reasons: z.array(z.string()),
  })
  .openapi('Receipt');

const tooLargeProblem = (c: Context) => problem(c, 413, 'body_too_large', 'Payload Too Large', { detail: `postback bodies are limited to ${MAX_POSTBACK_BYTES} bytes` });

const rejected = (c: Context<AppEnv>, reason: IngestRejectReason) => c.get('deps').metrics.rejected.inc({ reason });

const limit = limitBody(MAX_POSTBACK_BYTES, (c) => {
  rejected(c as Context<AppEnv>, 'body_too_large');
  return tooLargeProblem(c);
});

const limited = rateLimit('postbacks', (c) => rejected(c, 'rate_limited'));

/**
 * A relay key, from `Authorization: Bearer` or `?relay_key=`; undefined when none was presented.
 * Other authorization schemes (a proxy's Basic credentials) are not a relay's and are ignored.
 */
function relayCredential(c: Context): string | undefined {
  const bearer = /^Bearer\s+(.*)$/i.exec(c.req.header('Authorization')?.trim() ?? '');
  return bearer ? bearer[1]!.trim() : c.req.query('relay_key');
}

// Runs before the body is read, so a refused client costs next to nothing. A network relaying an
// advertiser's copies authenticates with its relay key instead of coming from an allowed address.
const guard = async (c: Context<AppEnv>, next: Next) => {
  const deps = c.get('deps');
  const credential = relayCredential(c);
  if (credential !== undefined) {
    const key = credential && credential.length <= 200 ? await findRelayKey(deps.db, credential) : undefined;
    if (!key) {
      rejected(c, 'invalid_relay_key');
      return problem(c, 401, 'invalid_relay_key', 'Unauthorized', { detail: 'the relay key is not valid; nothing was stored' }, { 'WWW-Authenticate': 'Bearer' });
    }
    c.set('relay', { name: key.name, adNetworkId: key.adNetworkId });
    return limited(c, next);
  }
  const g = deps.guard;
  if (!g) return next();
  const address = clientAddress(c.req.raw.headers, g.socketAddress?.(c), g.trustedHeader);
  if (!inRanges(address, g.allowlist)) {
    rejected(c, 'not_allowed');
    return problem(c, 403, 'not_allowed', 'Forbidden', { detail: 'this address may not post here' });
  }
  return limited(c, next);
};

const ingestRoute = (path: string, hide: boolean) =>
  createRoute({
    method: 'post',
    path,
    hide,
    summary: 'Receive a postback (SKAdNetwork or AdAttributionKit; also without the trailing slash). Open: Apple cannot authenticate.',
    middleware: [guard, limit] as const,
    request: {
      // Documented, not validated here: Apple does not say what Content-Type it sends, so the body
      // is read as bytes and checked by the pipeline, field by field.
      body: { content: { 'application/json': { schema: { type: 'object', description: 'the postback as Apple sends it, at most 16 KiB; Content-Type is not checked' } } } },
    },
    responses: {
      200: { description: 'Kept (or a duplicate of a kept body)', content: { 'application/json': { schema: ReceiptSchema } } },
      ...errorResponses(400, 401, 403, 405, 413, 503),
    },
  });

export function ingestRoutes(app: OpenAPIHono<AppEnv>): void {
  let inFlight = 0;

  async function ingest(c: Context<AppEnv>): Promise<Response> {
    const deps = c.get('deps');
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    // bodyLimit trusts a Content-Length it is given; the body as read is what counts.
    if (bytes.byteLength > MAX_POSTBACK_BYTES) return tooLargeProblem(c);
    // Under a flood, refuse early and cheaply: Apple's devices retry a 503 later.
    if (inFlight >= (deps.maxInFlight ?? 2048)) {
      return problem(c, 503, 'overloaded', 'Service Unavailable', { detail: 'too many postbacks in progress; retry later' }, { 'Retry-After': '1' });
    }
    inFlight++;
    let result: Awaited<ReturnType<typeof ingestPostback>>;
    try {
      result = await ingestPostback(bytes, deps, c.get('relay'));
    } catch (error) {
      if (error instanceof StorageUnavailableError) rejected(c, 'storage_unavailable');
      throw error;
    } finally {
      inFlight--;
    }
    if (!result.ok && 'relayMismatch' in result) {
      rejected(c, 'relay_network_mismatch');
      return problem(c, 403, 'relay_network_mismatch', 'Forbidden', {
        detail: `this relay key relays only ${c.get('relay')?.adNetworkId}'s postbacks, not ${JSON.stringify(result.relayMismatch)}'s; nothing was stored`,
      });
    }
    if (!result.ok) {
      return problem(c, 400, 'invalid_postback', 'Bad Request', { detail: 'the body cannot be kept as a postback; nothing was stored', problems: result.problems });
    }
    deps.metrics.ingested.inc({ outcome: result.receipt.outcome, signature: result.receipt.signature });
    c.set('receipt', result.receipt);
    if (result.receipt.outcome === 'stored') deps.afterStore?.();
    return securedJson(c, result.receipt, 200);
  }

  for (const path of INGEST_PATHS) {
    for (const [served, hide] of [
      [`${path}/`, false],
      [path, true],
    ] as const) {
      app.openapi(ingestRoute(served, hide), async (c) => {
        const started = performance.now();
        const response = await ingest(c);
        c.get('deps').metrics.duration.observe((performance.now() - started) / 1000);
        if (response.status === 400 || response.status === 413 || response.status === 503) {
          rejected(c, response.status === 413 ? 'body_too_large' : response.status === 400 ? 'invalid_postback' : 'overloaded');
        }
        return response as never;
      });
      app.all(served, (c) => {
        rejected(c, 'method_not_allowed');
        return problem(c, 405, 'method_not_allowed', 'Method Not Allowed', { detail: 'postbacks are sent with POST' }, { Allow: 'POST' });
      });
    }
  }
}
