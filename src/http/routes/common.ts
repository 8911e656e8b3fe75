// Shared pieces of the /v1 routes: dependencies, JSON bodies, problem mapping, OpenAPI helpers.
import type { Context } from 'hono';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import type { InstallModel } from '../../conversion/install-date.js';
import type { Db, Writer } from '../../db/db.js';
import { parseStrictJson, JsonSyntaxError, toPlain } from '../../postback/json.js';
import { sql } from 'drizzle-orm';
import type { AppDeps } from '../app.js';
import type { AuthEnv } from '../auth.js';
import type { Gauge } from '../../observability/metrics.js';
import { problem } from '../problem.js';

export interface V1Deps {
  db: Db;
  writer: Writer;
  now: () => Date;
  installModel: InstallModel;
  adminKey: string | undefined;
  reports?: AppDeps['reports'];
}

export type V1App = OpenAPIHono<AuthEnv>;

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

const problemContent = { 'application/problem+json': { schema: ProblemSchema } };
export const errorResponses = (...codes: Array<400 | 401 | 403 | 404 | 413>) =>
  Object.fromEntries(codes.map((code) => [code, { description: { 400: 'Bad request', 401: 'No or unknown API key', 403: 'Role or scope does not allow this', 404: 'Not found', 413: 'Body too large' }[code], content: problemContent }]));

export const bearer = [{ bearer: [] as string[] }];

/** Reads a JSON body strictly (duplicate keys refused) and validates it with `schema`. */
export async function readJson<T extends z.ZodType>(c: Context, schema: T): Promise<{ ok: true; value: z.infer<T> } | { ok: false; response: Response }> {
  let value: unknown;
  try {
    value = toPlain(parseStrictJson(await c.req.text()));
  } catch (error) {
    const detail = error instanceof JsonSyntaxError ? `the body is not valid JSON: ${error.message}` : 'the body could not be read';
    return { ok: false, response: problem(c, 400, 'invalid_body', 'Bad Request', { detail }) };
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    return {
      ok: false,
      response: problem(c, 400, 'invalid_body', 'Bad Request', {
        detail: 'the body does not match the expected shape',
        problems: parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', reason: i.message })),
      }),
    };
  }
  return { ok: true, value: parsed.data };
}

/** A 400 about one query or path parameter, named in `parameter` so a script can tell which. */
export const invalidParameter = (c: Context, parameter: string, detail: string): Response =>
  problem(c, 400, 'invalid_parameter', 'Bad Request', { detail, parameter });

/** The 400 for a query that failed its zod schema: the first offending parameter, every message. */
export function invalidQuery(c: Context, error: z.ZodError): Response {
  const first = error.issues[0]!;
  const named = (i: z.core.$ZodIssue) => (i.code === 'unrecognized_keys' ? i.keys.join(', ') : String(i.path[0] ?? 'query'));
  const detail = error.issues.map((i) => (i.code === 'unrecognized_keys' ? `unknown parameter ${named(i)}` : `${named(i)}: ${i.message}`)).join('; ');
  return invalidParameter(c, first.code === 'unrecognized_keys' ? first.keys[0]! : named(first), detail);
}

export const intParam = (c: Context, name: string): number | undefined => {
  const raw = c.req.param(name) ?? '';
  return /^\d{1,15}$/.test(raw) ? Number(raw) : undefined;
};

/** Outbox rows by destination and state, for GET /metrics. */
export async function deliveryGauges(db: Db): Promise<Gauge[]> {
  const rows = await db.all<{ destination: number; name: string; state: string; n: number }>(
    sql`select d.id as destination, d.name as name, x.state as state, count(*) as n from deliveries x join destinations d on d.id = x.destination_id group by 1, 2, 3`,
  );
  return [
    {
      name: 'skanpost_forwarding_deliveries',
      help: 'Copies in the outbox by destination and state (pending, delivered, dead)',
      samples: rows.map((r) => ({ labels: { destination: String(r.destination), name: r.name, state: r.state }, value: r.n })),
    },
  ];
}
