// The security headers every answer but a click's carries: the set Hono's secureHeaders() writes by
// default, read once from an answer it made, so that there is one list. Most answers get them after
// their handler ran (`secure`); ingest's 200 is built with them (`securedJson`): setting headers on a
// finished answer turns its plain header object into a Headers instance, copied again when Node
// writes it, ~6 KiB of garbage per postback on the thread that verifies (BENCHMARKS.md).
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from './deps.js';

interface Known {
  /** Lower-case names and their values. */
  list: ReadonlyArray<readonly [string, string]>;
  /** The same with a JSON answer's content type: one plain object every ingest 200 shares. */
  json: Readonly<Record<string, string>>;
}

// Read once (Hono sets them after an answer is made, so reading them is asynchronous); every answer
// after the first uses the value itself, without waiting on anything.
let known: Known | undefined;
let reading: Promise<Known> | undefined;

/** Reads the security headers once; `createApp` asks early, so that the first answer finds them read. */
export function securityHeaders(): Promise<Known> {
  reading ??= (async () => {
    const probe = new Hono();
    probe.use(secureHeaders());
    probe.get('/', (c) => c.body(null));
    const list: Array<readonly [string, string]> = [];
    (await probe.request('/')).headers.forEach((value, name) => {
      list.push([name, value]);
    });
    known = { list, json: Object.freeze({ 'content-type': 'application/json', ...Object.fromEntries(list) }) };
    return known;
  })();
  return reading;
}

/** Sets the security headers on the handler's answer, unless it was built with them. */
export const secure: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.get('secured')) return;
  for (const [name, value] of (known ?? (await securityHeaders())).list) c.res.headers.set(name, value);
  // As secureHeaders() does: nothing here sets it, but an answer must not tell what serves it.
  c.res.headers.delete('X-Powered-By');
};

/** `c.json(body, status)` with the security headers already in place: one plain, shared header object. */
export async function securedJson(c: Context<AppEnv>, body: unknown, status: number): Promise<Response> {
  const { json } = known ?? (await securityHeaders());
  c.set('secured', true);
  return new Response(JSON.stringify(body), { status, headers: json });
}
