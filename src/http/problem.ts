// RFC 9457 problem details: the one error shape every route answers with.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * Every machine-readable `reason` an error answer can carry: scripts branch on them, so they are
 * stable across releases, listed here once and documented (a test compares the two).
 */
export const PROBLEM_REASONS = [
  'invalid_postback',
  'invalid_body',
  'invalid_parameter',
  'too_many_rows',
  'unauthorized',
  'forbidden',
  'out_of_scope',
  'not_allowed',
  'not_found',
  'method_not_allowed',
  'body_too_large',
  'rate_limited',
  'internal_error',
  'overloaded',
  'storage_unavailable',
  'unhealthy',
  'in_use',
  'invalid_token',
  'invalid_relay_key',
  'relay_network_mismatch',
  'forged_click',
  'unknown_click',
  'expired_click',
  'app_mismatch',
  'click_after_install',
  'single_database',
  'shard_not_bound',
  'unknown_app',
  'already_there',
  'move_in_progress',
  'target_not_empty',
] as const;
export type ProblemReason = (typeof PROBLEM_REASONS)[number];

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  reason: ProblemReason;
  detail?: string;
  [extension: string]: unknown;
}

export function problem(
  c: Context,
  status: ContentfulStatusCode,
  reason: ProblemReason,
  title: string,
  extra: Omit<Partial<ProblemBody>, 'status' | 'reason' | 'title'> = {},
  headers: Record<string, string> = {},
): Response {
  const body: ProblemBody = { type: `urn:skanpost:problem:${reason}`, title, status, reason, ...extra };
  return c.body(JSON.stringify(body), status, { 'Content-Type': 'application/problem+json', ...headers });
}
