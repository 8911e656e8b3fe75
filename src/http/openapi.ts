// Pieces every route definition shares: the problem+json schema, the error responses, the bearer
// scheme, ids in paths, JSON bodies read strictly.
import { createRoute, type OpenAPIHono, type RouteConfig, type RouteHandler, type RouteHook, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { JsonSyntaxError, parseStrictJson, toPlain } from '../postback/json.js';
import type { AppEnv } from './deps.js';
import { invalidBody } from './errors.js';

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    reason: z.string(),
    detail: z.string().optional(),
  })
  .passthrough()
  .openapi('Problem');

// By reference rather than as a zod schema: error answers are built by `problem()` as plain
// responses (problem+json is not JSON to Hono's typed responses), so the routes accept those.
const problemContent = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
const ERROR_DESCRIPTIONS = {
  400: 'Bad request',
  401: 'No or unknown API key',
  403: 'Role or scope does not allow this',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflicts with the current state',
  413: 'Body too large',
  422: 'Understood, but cannot be done',
  503: 'Not stored; retry after Retry-After seconds',
} as const;

export const errorResponses = (...codes: Array<keyof typeof ERROR_DESCRIPTIONS>) =>
  Object.fromEntries(codes.map((code) => [code, { description: ERROR_DESCRIPTIONS[code], content: problemContent }])) as Record<
    keyof typeof ERROR_DESCRIPTIONS,
    { description: string; content: typeof problemContent }
  >;

export const bearer = [{ bearer: [] as string[] }];

export const json = <T extends z.ZodType>(description: string, schema: T) => ({ description, content: { 'application/json': { schema } } });
export const anyJson = (description: string) => json(description, z.object({}).passthrough());
export const noContent = (description: string) => ({ description });

/**
 * A whole number as a query or path writes it: digits only. Coercion would also take "" (0),
 * "1e3" and "0x10"; a script that sends those has a bug worth a 400.
 */
export const Count = z
  .string()
  .regex(/^\d{1,15}$/, 'a whole number, digits only')
  .transform(Number);
export const IdParams = z.object({ id: Count.openapi({ param: { name: 'id', in: 'path' }, example: '1' }) });

/** A comma-separated query parameter, as its values. */
export const List = z.string().transform((s) =>
  s
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
);
export const oneOf = <T extends readonly [string, ...string[]]>(values: T) => List.pipe(z.array(z.enum(values)).min(1)).optional();
export const AppIds = List.pipe(
  z
    .array(
      z
        .string()
        .regex(/^\d{1,15}$/, 'an app id is an integer')
        .transform(Number),
    )
    .min(1),
);
/** A time, or a day taken as its start in UTC. */
export const Instant = z.union([z.iso.datetime({ offset: true }), z.iso.date().transform((day) => `${day}T00:00:00Z`)]);

/** A JSON request body, validated by the route's schema. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({ body: { content: { 'application/json': { schema } }, required: true } });

/**
 * Reads a JSON body strictly (a duplicated key is refused; JSON.parse keeps the last silently),
 * whatever its Content-Type says: scripts post with `curl -d`, which says form-urlencoded, and
 * always have. The route's declared schema then validates what was read.
 */
export const strictJson: MiddlewareHandler = async (c, next) => {
  let value: unknown;
  try {
    value = toPlain(parseStrictJson(await c.req.text()));
  } catch (error) {
    const detail = error instanceof JsonSyntaxError ? `the body is not valid JSON: ${error.message}` : 'the body could not be read';
    return invalidBody(c, [{ field: '(body)', reason: detail }], detail);
  }
  // The route's validator reads the body through `c.req.json()`, and only when the request says it
  // is JSON: hand it the strictly read value, and say so.
  const headers = new Headers(c.req.raw.headers);
  headers.set('content-type', 'application/json');
  c.req.raw = new Request(c.req.url, { method: c.req.method, headers, body: JSON.stringify(value) });
  c.req.bodyCache = {};
  return next();
};

/**
 * A streamed answer from a route whose 200 is also JSON (the NDJSON export). Hono's typed
 * responses have no way to say "JSON, or a stream of lines" for one status, so this one answer
 * is let through untyped; the tests hold it to its shape.
 */
const streamed = (response: Response): never => response as never;

const encoder = new TextEncoder();

/**
 * An NDJSON export, read a page of up to 1,000 rows at a time as the client takes it: rows after
 * `cursor`, at most `limit` in all, each written as one JSON line.
 */
export function ndjsonExport<T extends { id: number }>(
  c: Context,
  page: (afterId: number, size: number) => Promise<T[]>,
  cursor: number,
  limit: number | undefined,
  line: (row: T) => unknown,
): never {
  let after = cursor;
  let left = limit ?? Number.POSITIVE_INFINITY;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const rows = left > 0 ? await page(after, Math.min(1000, left)) : [];
      if (rows.length === 0) return controller.close();
      after = rows.at(-1)!.id;
      left -= rows.length;
      controller.enqueue(encoder.encode(rows.map((r) => `${JSON.stringify(line(r))}\n`).join('')));
    },
  });
  return streamed(c.body(stream, 200, { 'Content-Type': 'application/x-ndjson; charset=utf-8' }));
}

/**
 * Registers a /v1 route twice with one handler: for API keys under its path, and for a signed-in
 * dashboard session under /dashboard/api (left out of the document), so the dashboard acts through
 * the API's own code.
 */
export function servedTwice<R extends RouteConfig>(app: OpenAPIHono<AppEnv>, route: R, handler: RouteHandler<R, AppEnv>, hook?: RouteHook<R, AppEnv>): void {
  // The hook's type is the route's own; the library's overload wants it narrower than it exports.
  app.openapi(route, handler, hook as never);
  app.openapi(createRoute({ ...route, path: `/dashboard/api${route.path}`, hide: true }) as R, handler, hook as never);
}
