// Configuration from environment variables (Node) or Worker vars: parsed and checked once.
import { InstallModel } from './conversion/install-date.js';
export type Synchronous = 'full' | 'normal';

export interface Config {
  port: number;
  /** SQLite file (Node only). */
  dbPath: string;
  /** SKANPOST_EXTRA_KEYS as given; parsed by buildKeyRing. */
  extraKeys: string;
  /** `full` (default): an acknowledged postback survives power loss. `normal`: only a crash. */
  synchronous: Synchronous;
  /** SKANPOST_ADMIN_KEY: bootstrap admin API key; without it, only keys made with `skanpost keys create` work. */
  adminKey: string | undefined;
  /** Ingests being verified and written at once; past it, 503 with Retry-After (the device retries). */
  maxInFlight: number;
  /** Slow clients: time to send the headers, and the whole request (Node server). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** `debug`, `info` (one line per request), `warn` or `error`. */
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** A second port serving only GET /metrics without a key (for a scraper on a private network). */
  metricsPort: number | undefined;
  /** Days invalid, unverifiable and development rows are kept (SKANPOST_RETENTION_DAYS, 90). */
  retentionDays: number;
  /** Days verified rows are kept (SKANPOST_RETENTION_VERIFIED_DAYS); unset keeps them. */
  retentionVerifiedDays: number | undefined;
  /** Ingest requests per second per client address (token bucket); undefined: no limit. */
  rateLimit: number | undefined;
  rateBurst: number | undefined;
  /** Header that carries the client address, set by a proxy the operator trusts (X-Forwarded-For…). */
  trustedProxyHeader: string | undefined;
  /** CIDR ranges allowed to post; empty: everyone. */
  allowlist: string;
  /** Constants of the install-date estimate (SKANPOST_INSTALL_MODEL, JSON; defaults from docs/postbacks.md). */
  installModel: InstallModel;
  /** SKANPOST_PUBLIC_URL: the origin clients reach skanpost at (links and MMP templates name it); unset: each request's own. */
  publicUrl: string | undefined;
  /** SKANPOST_CLICK_SECRET, comma-separated: the first signs click IDs, all validate. Empty: one kept in the database. */
  clickSecrets: string[];
  /** SKANPOST_INGEST_MODE: `direct` (write, then answer) or, on Workers, `queue` (send to a queue, then answer). */
  ingestMode: 'direct' | 'queue';
  /** SKANPOST_SESSION_SECRET, comma-separated: the first signs dashboard sessions, all check them. Empty: one kept in the database. */
  sessionSecrets: string[];
  /** SKANPOST_DISCREPANCY_THRESHOLD_PCT: a gap beyond this many percent is `over_threshold` (default 10). */
  discrepancyThresholdPct: number;
}

/** A gap in the discrepancy report beyond this many percent is `over_threshold`, unless configured. */
export const DEFAULT_DISCREPANCY_THRESHOLD_PCT = 10;

export class ConfigError extends Error {}

function port(name: string, raw: string): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > 65535) throw new ConfigError(`${name} must be a port number, got ${JSON.stringify(raw)}`);
  return value;
}

export function readConfig(env: Record<string, string | undefined>): Config {
  const synchronous = (env.SKANPOST_SYNCHRONOUS ?? 'full').toLowerCase();
  if (synchronous !== 'full' && synchronous !== 'normal') {
    throw new ConfigError(`SKANPOST_SYNCHRONOUS must be "full" or "normal", got ${JSON.stringify(env.SKANPOST_SYNCHRONOUS)}`);
  }
  let installModel: InstallModel;
  try {
    installModel = InstallModel.parse(JSON.parse(env.SKANPOST_INSTALL_MODEL || '{}'));
  } catch (error) {
    const detail =
      error instanceof SyntaxError
        ? 'not JSON'
        : (error as { issues?: Array<{ path: unknown[]; message: string }> }).issues?.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`SKANPOST_INSTALL_MODEL is invalid: ${detail}`);
  }
  const positive = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new ConfigError(`${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
    return Number(raw);
  };
  const adminKey = env.SKANPOST_ADMIN_KEY || undefined;
  if (adminKey !== undefined && adminKey.length < 16) throw new ConfigError('SKANPOST_ADMIN_KEY must be at least 16 characters');
  const logLevel = (env.SKANPOST_LOG_LEVEL ?? 'info').toLowerCase();
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    throw new ConfigError(`SKANPOST_LOG_LEVEL must be debug, info, warn or error, got ${JSON.stringify(env.SKANPOST_LOG_LEVEL)}`);
  const rate = env.SKANPOST_RATE_LIMIT ? Number(env.SKANPOST_RATE_LIMIT) : undefined;
  if (rate !== undefined && !(rate > 0 && Number.isFinite(rate)))
    throw new ConfigError(`SKANPOST_RATE_LIMIT must be a number of requests per second, got ${JSON.stringify(env.SKANPOST_RATE_LIMIT)}`);
  const header = env.SKANPOST_TRUSTED_PROXY_HEADER || undefined;
  if (header !== undefined && !/^[A-Za-z0-9-]+$/.test(header))
    throw new ConfigError(`SKANPOST_TRUSTED_PROXY_HEADER must be a header name such as X-Forwarded-For, got ${JSON.stringify(header)}`);
  const clickSecrets = (env.SKANPOST_CLICK_SECRET ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (clickSecrets.some((secret) => secret.length < 32)) throw new ConfigError('SKANPOST_CLICK_SECRET: each secret must be at least 32 characters (openssl rand -base64 32)');
  const sessionSecrets = (env.SKANPOST_SESSION_SECRET ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (sessionSecrets.some((secret) => secret.length < 32)) throw new ConfigError('SKANPOST_SESSION_SECRET: each secret must be at least 32 characters (openssl rand -base64 32)');
  const publicUrl = env.SKANPOST_PUBLIC_URL ? env.SKANPOST_PUBLIC_URL.replace(/\/+$/, '') : undefined;
  if (publicUrl !== undefined && !/^https?:\/\/[^/?#@\s]+$/i.test(publicUrl))
    throw new ConfigError(`SKANPOST_PUBLIC_URL must be an origin such as https://postbacks.example.com, got ${JSON.stringify(env.SKANPOST_PUBLIC_URL)}`);
  const ingestMode = (env.SKANPOST_INGEST_MODE || 'direct').toLowerCase();
  if (ingestMode !== 'direct' && ingestMode !== 'queue') throw new ConfigError(`SKANPOST_INGEST_MODE must be direct or queue, got ${JSON.stringify(env.SKANPOST_INGEST_MODE)}`);
  const threshold = env.SKANPOST_DISCREPANCY_THRESHOLD_PCT || undefined;
  if (threshold !== undefined && !/^\d{1,4}(\.\d+)?$/.test(threshold))
    throw new ConfigError(`SKANPOST_DISCREPANCY_THRESHOLD_PCT must be a number of percent such as 10, got ${JSON.stringify(threshold)}`);
  return {
    ingestMode,
    discrepancyThresholdPct: threshold === undefined ? DEFAULT_DISCREPANCY_THRESHOLD_PCT : Number(threshold),
    clickSecrets,
    sessionSecrets,
    publicUrl,
    rateLimit: rate,
    rateBurst: rate === undefined ? undefined : positive('SKANPOST_RATE_BURST', Math.max(1, Math.ceil(rate * 2))),
    trustedProxyHeader: header,
    allowlist: env.SKANPOST_ALLOWLIST ?? '',
    port: port('PORT', env.PORT ?? '8787'),
    logLevel: logLevel as Config['logLevel'],
    metricsPort: env.SKANPOST_METRICS_PORT ? port('SKANPOST_METRICS_PORT', env.SKANPOST_METRICS_PORT) : undefined,
    maxInFlight: positive('SKANPOST_MAX_INFLIGHT', 2048),
    retentionDays: positive('SKANPOST_RETENTION_DAYS', 90),
    retentionVerifiedDays: env.SKANPOST_RETENTION_VERIFIED_DAYS ? positive('SKANPOST_RETENTION_VERIFIED_DAYS', 0) : undefined,
    headersTimeoutMs: positive('SKANPOST_HEADERS_TIMEOUT_MS', 10_000),
    requestTimeoutMs: positive('SKANPOST_REQUEST_TIMEOUT_MS', 30_000),
    adminKey,
    installModel,
    dbPath: env.SKANPOST_DB || './data/skanpost.db',
    extraKeys: env.SKANPOST_EXTRA_KEYS ?? '',
    synchronous,
  };
}
