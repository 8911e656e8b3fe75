// Errors as answers: the domain throws small typed errors that know nothing of HTTP, and this one
// place turns each into problem+json with its stable `reason`. Unknown errors are logged and
// answered with a generic 500; their message never reaches the client.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { z } from 'zod';
import { EmptyScopeError } from '../db/api-keys.js';
import { StorageUnavailableError } from '../db/db.js';
import { MoveRefused } from '../maintenance/moves.js';
import { FieldError, InUseError } from '../model/field-error.js';
import { paramError, ReportParamError } from '../report/query.js';
import { ReportTooLargeError } from '../report/run.js';
import type { AppEnv } from './deps.js';
import { problem } from './problem.js';

const STATUS_TITLES = { 404: 'Not Found', 409: 'Conflict', 422: 'Unprocessable Content' } as const;

/** A scoped key asked for an app or network outside its scope. */
export class ScopeError extends Error {}

/** The thing a route names (a postback, a destination, a key…) does not exist, or not for this key. */
export class NotFoundError extends Error {
  constructor(what: string) {
    super(`no ${what}`);
  }
}

/** A query or path parameter that is not what the route takes; `parameter` names it. */
export class InvalidParameterError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
  }
}

/** A request body that is not what the route takes, every problem by field. */
export class InvalidBodyError extends Error {
  constructor(
    readonly problems: Array<{ field: string; reason: string }>,
    message = 'the body does not match the expected shape',
  ) {
    super(message);
  }
}

export const invalidBody = (c: Context, problems: Array<{ field: string; reason: string }>, detail: string) => problem(c, 400, 'invalid_body', 'Bad Request', { detail, problems });

const issueMessage = (issue: z.core.$ZodIssue) => {
  if (issue.code === 'unrecognized_keys') return `unknown parameter ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  const name = String(issue.path[0] ?? 'query');
  return issue.message.startsWith(name) ? issue.message : `${name}: ${issue.message}`;
};

/**
 * A route's declared input failed validation: a query names its first bad parameter; a body lists
 * every problem by field; a path parameter that is not an id names nothing that exists.
 */
export function validationHook(result: { success: boolean; target: string; error?: z.ZodError }, c: Context): undefined {
  if (result.success || !result.error) return undefined;
  const { issues } = result.error;
  if (result.target === 'query') throw new InvalidParameterError(paramError(result.error).param, issues.map(issueMessage).join('; '));
  if (result.target === 'param') throw new NotFoundError(c.req.path.replace(/^\/v1\//, ''));
  throw new InvalidBodyError(issues.map((i) => ({ field: i.path.join('.') || '(body)', reason: i.message })));
}

/** The app's `onError`: every typed error to its answer, anything else to a logged 500. */
export function answerError(error: Error, c: Context<AppEnv>): Response {
  if (error instanceof ReportParamError) return problem(c, 400, 'invalid_parameter', 'Bad Request', { detail: error.message, parameter: error.param });
  if (error instanceof InvalidParameterError) return problem(c, 400, 'invalid_parameter', 'Bad Request', { detail: error.message, parameter: error.parameter });
  if (error instanceof InvalidBodyError) return invalidBody(c, error.problems, error.message);
  if (error instanceof ReportTooLargeError) return problem(c, 400, 'too_many_rows', 'Bad Request', { detail: error.message });
  if (error instanceof ScopeError) return problem(c, 403, 'out_of_scope', 'Forbidden', { detail: error.message });
  if (error instanceof NotFoundError) return problem(c, 404, 'not_found', 'Not Found', { detail: error.message });
  if (error instanceof FieldError) return invalidBody(c, [{ field: error.field, reason: error.message }], error.message);
  if (error instanceof InUseError) return problem(c, 409, 'in_use', 'Conflict', { detail: error.message });
  if (error instanceof MoveRefused) return problem(c, error.status, error.code, STATUS_TITLES[error.status], { detail: error.message });
  if (error instanceof EmptyScopeError) return invalidBody(c, [{ field: error.field, reason: error.message }], error.message);
  const deps = c.get('deps');
  if (error instanceof StorageUnavailableError) {
    deps.logger.warn('storage unavailable', { code: error.code, path: c.req.path });
    return problem(c, 503, 'storage_unavailable', 'Service Unavailable', { detail: 'the postback was not stored; retry later' }, { 'Retry-After': '5' });
  }
  if (error instanceof HTTPException && error.status === 413) return problem(c, 413, 'body_too_large', 'Payload Too Large', { detail: error.message });
  deps.logger.error('unhandled error', { path: c.req.path, error: error.stack ?? String(error) });
  return problem(c, 500, 'internal_error', 'Internal Server Error');
}
