// RFC 9457 problem details: the one error shape every route answers with.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  /** Machine-readable, stable across releases: scripts branch on it. */
  reason: string;
  detail?: string;
  [extension: string]: unknown;
}

export function problem(
  c: Context,
  status: ContentfulStatusCode,
  reason: string,
  title: string,
  extra: Omit<Partial<ProblemBody>, 'status' | 'reason' | 'title'> = {},
  headers: Record<string, string> = {},
): Response {
  const body: ProblemBody = { type: `urn:skanpost:problem:${reason}`, title, status, reason, ...extra };
  return c.body(JSON.stringify(body), status, { 'Content-Type': 'application/problem+json', ...headers });
}
