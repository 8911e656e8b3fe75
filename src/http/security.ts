// The security headers every answer but a click's carries: the set Hono's secureHeaders() writes by
// default, read once from an answer it made, so that there is one list. Most answers get them after
// their handler ran (`secure`); ingest's 200 is built with them (`securedJson`): setting headers on a
// finished answer turns its plain header object into a Headers instance, copied again when Node
// writes it, ~6 KiB of garbage per postback on the thread that verifies (BENCHMARKS.md).
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from './deps.js';

let known: Promise<ReadonlyArray<readonly [string, string]>> | undefined;

/** The headers (lower-case names) and values Hono's secureHeaders() sets on an answer. */
function securityHeaders(): Promise<ReadonlyArray<readonly [string, string]>> {
  known ??= (async () => {
    const probe = new Hono();
    probe.use(secureHeaders());
    probe.get('/', (c) => c.body(null));
    const headers: Array<readonly [string, string]> = [];
    (await probe.request('/')).headers.forEach((value, name) => {
      headers.push([name, value]);
    });
    return headers;
  })();
  return known;
}

/** Sets the security headers on the handler's answer, unless it was built with them. */
export const secure: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.get('secured')) return;
  for (const [name, value] of await securityHeaders()) c.res.headers.set(name, value);
  // As secureHeaders() does: nothing here sets it, but an answer must not tell what serves it.
  c.res.headers.delete('X-Powered-By');
};

let jsonHeaders: Promise<Readonly<Record<string, string>>> | undefined;

/** `c.json(body, status)` with the security headers already in place: one plain, shared header object. */
export async function securedJson(c: Context<AppEnv>, body: unknown, status: number): Promise<Response> {
  jsonHeaders ??= securityHeaders().then((list) => Object.freeze({ 'content-type': 'application/json', ...Object.fromEntries(list) }));
  const headers = await jsonHeaders;
  c.set('secured', true);
  return new Response(JSON.stringify(body), { status, headers });
}
