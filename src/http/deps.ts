// What the app needs from the runtime it runs on, and what a request carries through it. The
// Node server passes one set for its life; the Worker builds one per request from its bindings.
import type { Context } from 'hono';
import type { Role } from '../db/api-keys.js';
import type { Db } from '../db/db.js';
import type { NewClick } from '../db/mmp.js';
import type { MmpPartnerRow } from '../db/schema.js';
import { type Shards, singleShard } from '../db/shards.js';
import type { IngestDeps, Relay } from '../ingest/ingest.js';
import type { MmpSaveResult, ReadMmpPostback } from '../mmp/intake.js';
import type { Logger } from '../observability/logger.js';
import type { IngestMetrics } from '../observability/metrics.js';
import type { ReportQuery } from '../report/query.js';
import type { ReportPart } from '../report/render.js';
import type { WholeJob } from '../report/whole.js';
import type { parseAllowlist, RateLimiter } from './client-guard.js';

export interface AppDeps extends IngestDeps {
  /** For reads (reports, listings); writes go through `writer`. */
  db: Db;
  /** Where each app's rows are (Workers sharded by app); by default everything on `db` (`shardsOf`). */
  shards?: Shards;
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
  /** Counters, shared with a separate metrics listener where the runtime has one. */
  metrics: IngestMetrics;
  /**
   * Runs a report away from the thread that serves requests (Node: reader threads, the days split
   * among them); without it, reports run on `db` in process.
   */
  reports?: (query: ReportQuery, now: Date, fillingHorizonMs: number) => Promise<ReportPart[]>;
  /** As `reports`, for the reports computed in one piece (discrepancies, copies): their body. */
  wholeReports?: (job: WholeJob, now: Date) => Promise<string>;
  /** Figures only the runtime knows (group commit, database size), as exposition text. */
  runtimeMetrics?: () => Promise<string>;
  /**
   * Called when a request stored something new that destinations may want (an Apple or an MMP
   * postback). Workers send the copies right after the answer instead of at the next cron.
   */
  afterStore?: () => void;
  /** SKANPOST_DISCREPANCY_THRESHOLD_PCT: the discrepancy report's default `threshold_pct` (DEFAULT_DISCREPANCY_THRESHOLD_PCT when absent). */
  discrepancyThresholdPct?: number;
  /** Queue mode (Workers): sends queued-postback messages again to the ingest queues (dead-letter replay). */
  requeue?: (messages: readonly unknown[]) => Promise<void>;
  /** SKANPOST_PUBLIC_URL: the origin links and postback templates name; by default the request's. */
  publicUrl?: string;
  logger: Logger;
  /** The secrets that sign (the first) and check dashboard sessions (mmp/secrets.ts). */
  sessionSecrets: () => Promise<readonly string[]>;
  /** A script or style of the dashboard or /docs by its path under public/ (Node: read at start; Workers: static assets). */
  asset?: (path: string) => Promise<{ body: string; type: string } | undefined>;
  /** The secrets that sign (the first) and check click IDs (mmp/secrets.ts). */
  clickSecrets: () => Promise<readonly string[]>;
  /**
   * Keeps a click after its redirect has been answered: Node gathers clicks for a moment and writes
   * them in one unit; Workers write each after the answer (`waitUntil`).
   */
  recordClick: (row: NewClick) => void;
  /** Stores an MMP postback; by default `saveMmpPostback` through `writer` (the Node server uses its writer thread). */
  saveMmp?: (mmp: { partner: MmpPartnerRow; read: ReadMmpPostback; receivedAt: Date; secrets: readonly string[] }) => Promise<MmpSaveResult>;
}

/** Who is asking: a key's role and its scope (mandatory filters; null means every app or network). */
export interface Principal {
  role: Role;
  keyId: number | null;
  appIds: number[] | null;
  adNetworkIds: string[] | null;
}

/** Request-scoped values: the dependencies, who is asking, and for ingest what was answered (for the request log). */
export type AppEnv = {
  Variables: {
    deps: AppDeps;
    principal: Principal;
    receipt: { outcome: string; signature: string };
    /** Dashboard: the signed-in session's cookie, for its CSRF token. */
    sessionCookie: string;
    /** Ingest: the relay key a network presented, when the copy is relayed. */
    relay: Relay | undefined;
    /** The answer was built with the security headers (http/security.ts): none to add after. */
    secured: boolean;
  };
};

const single = new WeakMap<AppDeps, Shards>();

/** The app's shards: the runtime's, or its one database. */
export function shardsOf(deps: AppDeps): Shards {
  if (deps.shards) return deps.shards;
  const known = single.get(deps);
  if (known) return known;
  const shards = singleShard(deps.db, deps.writer);
  single.set(deps, shards);
  return shards;
}
