// createApp(deps): the Hono application shared by the Node server, the Worker and the tests.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { StorageUnavailableError } from '../db/db.js';
import { ingestPostback, type IngestDeps } from '../ingest/ingest.js';
import { problem } from './problem.js';

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface AppDeps extends IngestDeps {
  /** Resolves true once migrations are applied and the database answers. */
  health: () => Promise<boolean>;
  logger: Logger;
}

/** Apple's postbacks are well under 2 KiB; relayed copies with enrichment keys stay far below this. */
export const MAX_POSTBACK_BYTES = 16 * 1024;

export const INGEST_PATHS = ['/.well-known/skadnetwork/report-attribution', '/.well-known/appattribution/report-attribution'];

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  const tooLarge = bodyLimit({
    maxSize: MAX_POSTBACK_BYTES,
    onError: (c) => problem(c, 413, 'body_too_large', 'Payload Too Large', { detail: `postback bodies are limited to ${MAX_POSTBACK_BYTES} bytes` }),
  });

  for (const path of INGEST_PATHS.flatMap((p) => [p, `${p}/`])) {
    app.post(path, tooLarge, async (c) => {
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (bytes.byteLength > MAX_POSTBACK_BYTES) {
        return problem(c, 413, 'body_too_large', 'Payload Too Large', { detail: `postback bodies are limited to ${MAX_POSTBACK_BYTES} bytes` });
      }
      const result = await ingestPostback(bytes, deps);
      if (!result.ok) {
        return problem(c, 400, 'invalid_postback', 'Bad Request', {
          detail: 'the body cannot be kept as a postback; nothing was stored',
          problems: result.problems,
        });
      }
      return c.json(result.receipt);
    });
    app.all(path, (c) =>
      problem(c, 405, 'method_not_allowed', 'Method Not Allowed', { detail: 'postbacks are sent with POST' }, { Allow: 'POST' }),
    );
  }

  app.get('/healthz', async (c) => {
    const healthy = await deps.health().catch(() => false);
    return healthy ? c.json({ status: 'ok' }) : problem(c, 503, 'unhealthy', 'Service Unavailable', { detail: 'the database does not answer' });
  });

  app.notFound((c) => problem(c, 404, 'not_found', 'Not Found', { detail: `no route for ${c.req.method} ${c.req.path}` }));

  app.onError((error, c) => {
    if (error instanceof StorageUnavailableError) {
      deps.logger.warn('storage unavailable', { code: error.code, path: c.req.path });
      return problem(c, 503, 'storage_unavailable', 'Service Unavailable', { detail: 'the postback was not stored; retry later' }, { 'Retry-After': '5' });
    }
    deps.logger.error('unhandled error', { path: c.req.path, error: error instanceof Error ? error.stack : String(error) });
    return problem(c, 500, 'internal_error', 'Internal Server Error');
  });

  return app;
}
