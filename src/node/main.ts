// `npm start`: the embedded default — one process, one SQLite file, no configuration needed.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { serve } from '@hono/node-server';
import { ConfigError, readConfig } from '../config.js';
import { createApp } from '../http/app.js';
import { GuardConfigError } from '../http/client-guard.js';
import { METRICS_TYPE, renderMetrics } from '../http/routes/system.js';
import { jsonLogger } from '../observability/logger.js';
import { KeyConfigError } from '../postback/keys.js';
import { batchedStderr } from './log-writer.js';
import { createNodeRuntime } from './runtime.js';

let logger = jsonLogger();

async function main(): Promise<void> {
  const config = readConfig(process.env);
  logger = jsonLogger(batchedStderr(), config.logLevel);
  const runtime = await createNodeRuntime(config, logger, undefined, { ingestThread: true, reportThreads: true });
  const deps = runtime.deps;
  const app = createApp(deps);
  runtime.startJobs();
  const server = serve(
    {
      fetch: app.fetch,
      port: config.port,
      // Slow clients (one byte a minute) must not hold connections: bound headers and requests,
      // and check often enough for the bounds to bite.
      serverOptions: { headersTimeout: config.headersTimeoutMs, requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs) },
    },
    (info) => {
      logger.info('skanpost listening', { port: info.port, db: config.dbPath, synchronous: config.synchronous });
    },
  );
  // Optional: metrics without a key on a port of their own, for a scraper on a private network.
  const metricsServer =
    config.metricsPort === undefined
      ? undefined
      : serve({ fetch: async () => new Response(await renderMetrics(deps), { headers: { 'Content-Type': METRICS_TYPE } }), port: config.metricsPort }, (info) =>
          logger.info('metrics listening', { port: info.port }),
        );
  server.on('error', (error) => {
    logger.error('server error', { error: String(error) });
    process.exit(1);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    // Stop accepting, let in-flight requests finish their writes, then close the database.
    metricsServer?.close();
    server.close(async () => {
      await runtime.close();
      logger.info('stopped');
      process.exit(0);
    });
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error) => {
  if (error instanceof ConfigError || error instanceof KeyConfigError || error instanceof GuardConfigError) {
    logger.error(`configuration error: ${error.message}`);
  } else {
    logger.error('failed to start', { error: error instanceof Error ? error.stack : String(error) });
  }
  process.exit(1);
});
