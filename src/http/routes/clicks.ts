// The network's click log from the outside: `/c/:id` and `/i/:id` (open: every ad links here), and
// `POST /v1/clicks` for networks with a click tracker of their own. A redirect is answered before
// its click is written (AppDeps.recordClick), with nothing about the device kept.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { clickStatements, findLinkForClick, getLink, type NewClick, storedClicks } from '../../db/mmp.js';
import type { LinkRow } from '../../db/schema.js';
import { groupByShard } from '../../db/shards.js';
import { mintClickId, type Touch } from '../../mmp/click-id.js';
import { clickLinks } from '../../mmp/click-log.js';
import { parseTimestamp } from '../../mmp/fields.js';
import { clickRow, renderLinkUrl, type Subs } from '../../mmp/links.js';
import { insideScope, requireRole } from '../auth.js';
import { type AppEnv, shardsOf } from '../deps.js';
import { InvalidBodyError, InvalidParameterError, NotFoundError, ScopeError } from '../errors.js';
import { anyJson, bearer, errorResponses, IdParams } from '../openapi.js';
import { problem } from '../problem.js';
import { rateLimit } from '../rate-limit.js';

/** POST /v1/clicks: at most this many clicks, and this many bytes, per request. */
const MAX_IMPORT_CLICKS = 10_000;
const MAX_IMPORT_BYTES = 4 * 1024 * 1024;
const MAX_SUB = 100;
const SUBS = ['sub1', 'sub2', 'sub3', 'sub4', 'sub5'] as const;

const sub = z.string().max(MAX_SUB, `at most ${MAX_SUB} characters`);
const SubQuery = z
  .object(
    Object.fromEntries(SUBS.map((name) => [name, sub.optional().openapi({ description: `passed into the {${name}} macro` })])) as Record<
      (typeof SUBS)[number],
      z.ZodOptional<typeof sub>
    >,
  )
  // Publishers append their own parameters to click URLs: those are not skanpost's to refuse.
  .loose();

const subsOf = (query: Partial<Record<(typeof SUBS)[number], string>>): Subs => Object.fromEntries(SUBS.map((name) => [name, query[name] || null]));

const ClickImport = z
  .object({
    click_id: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces'),
    link_id: z.number().int().min(1),
    clicked_at: z.union([z.iso.datetime({ offset: true }), z.number().int().min(0)]).describe('RFC 3339, or unix seconds (10 digits) or milliseconds (13)'),
    touch: z.enum(['click', 'impression']).default('click'),
    ...Object.fromEntries(SUBS.map((name) => [name, sub.nullish()])),
  })
  .strict();
type ClickImport = z.infer<typeof ClickImport>;

/** Clicks from a JSON array or NDJSON, each checked; the problems name the click by its position (from 1). */
function readImport(text: string): { clicks: ClickImport[] } | { problems: Array<{ field: string; reason: string }> } {
  let items: unknown[];
  const problems: Array<{ field: string; reason: string }> = [];
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    try {
      items = JSON.parse(trimmed);
    } catch (error) {
      return { problems: [{ field: '(body)', reason: `not valid JSON: ${(error as Error).message}` }] };
    }
  } else {
    items = [];
    for (const [i, line] of text.split('\n').entries()) {
      if (line.trim() === '') continue;
      try {
        items.push(JSON.parse(line));
      } catch {
        problems.push({ field: `line ${i + 1}`, reason: 'not a JSON object' });
      }
    }
  }
  if (items.length === 0 && problems.length === 0) return { problems: [{ field: '(body)', reason: 'no clicks: send a JSON array or NDJSON lines of clicks' }] };
  if (items.length > MAX_IMPORT_CLICKS) return { problems: [{ field: '(body)', reason: `at most ${MAX_IMPORT_CLICKS} clicks per request, got ${items.length}` }] };
  const clicks: ClickImport[] = [];
  for (const [i, item] of items.entries()) {
    const parsed = ClickImport.safeParse(item);
    if (parsed.success) clicks.push(parsed.data);
    else for (const issue of parsed.error.issues.slice(0, 3)) problems.push({ field: `${i + 1}.${issue.path.join('.') || '(click)'}`, reason: issue.message });
    if (problems.length >= 50) break;
  }
  return problems.length ? { problems } : { clicks };
}

const importedAt = (value: string | number) => (typeof value === 'number' ? parseTimestamp(String(value), null) : new Date(value)) ?? new Date(Number.NaN);

export function clickRoutes(app: OpenAPIHono<AppEnv>): void {
  const limited = rateLimit('clicks');
  for (const touch of ['click', 'impression'] as const satisfies readonly Touch[]) {
    const path = touch === 'click' ? '/c' : '/i';
    // Documented from the schemas, served by a plain route: on the busiest path the validator's
    // per-request parse cost more than signing the click ID, and the two checks are written below.
    app.openAPIRegistry.registerPath(
      createRoute({
        method: 'get',
        path: `${path}/{id}`,
        summary:
          touch === 'click'
            ? "A click on a tracking link: 302 to the link's target_url with a new signed click ID (query sub1…sub5 fill the macros); the click is counted within 2 s"
            : 'An impression of a tracking link: 204; counted, and announced to the MMP when the link has an impression_url',
        request: { params: IdParams, query: SubQuery },
        responses: {
          ...(touch === 'click' ? { 302: { description: "To the MMP's attribution link" } } : { 204: { description: 'Counted' } }),
          ...errorResponses(400, 404),
        },
      }),
    );
    app.get(`${path}/:id`, limited, async (c) => {
      const deps = c.get('deps');
      const raw = c.req.param('id') ?? '';
      if (!/^\d{1,15}$/.test(raw)) throw new NotFoundError(`link ${raw.slice(0, 20)}`);
      const subs: Subs = { sub1: null, sub2: null, sub3: null, sub4: null, sub5: null };
      for (const name of SUBS) {
        const value = c.req.query(name);
        if (value === undefined || value === '') continue;
        if (value.length > MAX_SUB) throw new InvalidParameterError(name, `${name}: at most ${MAX_SUB} characters`);
        subs[name] = value;
      }
      const found = await findLinkForClick(deps.db, Number(raw));
      if (!found?.link.enabled) throw new NotFoundError(`enabled link ${raw}`);
      const { link, campaignName } = found;
      // Whole seconds: the time in the click ID and the time kept are the same.
      const at = new Date(Math.floor(deps.now().getTime() / 1000) * 1000);
      const [secret] = await deps.clickSecrets();
      const clickId = mintClickId({ linkId: link.id, touch, at }, secret!);
      deps.recordClick(clickRow(link, clickId, touch, at, subs, false));
      deps.metrics.clicks.inc({ touch });
      if (touch === 'impression') return c.body(null, 204, { 'Cache-Control': 'no-store' });
      // An empty body of declared length: without it the answer goes out chunked, in more writes.
      return c.body(null, 302, { Location: renderLinkUrl(link.targetUrl, link, campaignName, { clickId, at, subs }), 'Content-Length': '0', 'Cache-Control': 'no-store' });
    });
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/clicks',
      summary: `Import clicks from a click tracker of your own: a JSON array or NDJSON, at most ${MAX_IMPORT_CLICKS} clicks and 4 MiB; all or nothing`,
      security: bearer,
      middleware: [
        requireRole('admin'),
        bodyLimit({
          maxSize: MAX_IMPORT_BYTES,
          onError: (c) => problem(c, 413, 'body_too_large', 'Payload Too Large', { detail: `click imports are limited to ${MAX_IMPORT_BYTES} bytes; split the file` }),
        }),
      ] as const,
      // Documented, read by hand: the checks name each click by its position, all or nothing.
      request: {
        body: {
          content: {
            'application/json': { schema: { type: 'array', description: 'clicks: {"click_id", "link_id", "clicked_at", "touch", "sub1"…"sub5"}' } },
            'application/x-ndjson': { schema: { type: 'string', description: 'one click per line' } },
          },
          required: true,
        },
      },
      responses: { 200: anyJson('{"received", "stored", "duplicates"}'), ...errorResponses(400, 401, 403, 413) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const read = readImport(await c.req.text());
      if ('problems' in read) throw new InvalidBodyError(read.problems, 'no click was stored: fix the clicks named and send the request again');
      const principal = c.get('principal');
      const linkRows = new Map<number, LinkRow>();
      const problems: Array<{ field: string; reason: string }> = [];
      for (const id of new Set(read.clicks.map((k) => k.link_id))) {
        const link = await getLink(deps.db, id);
        if (!link) problems.push({ field: 'link_id', reason: `no link ${id}` });
        else if (!insideScope(principal, { appIds: [link.appId], adNetworkIds: [link.adNetworkId] })) throw new ScopeError(`this key may not import clicks of link ${id}`);
        else linkRows.set(id, link);
      }
      if (problems.length) throw new InvalidBodyError(problems, 'no click was stored: create the links first');
      const rows: NewClick[] = read.clicks.map((k) => clickRow(linkRows.get(k.link_id)!, k.click_id, k.touch, importedAt(k.clicked_at), subsOf(k as never), true));
      if (rows.some((r) => Number.isNaN(r.clickedAt.getTime())))
        throw new InvalidBodyError([{ field: 'clicked_at', reason: 'unix seconds (10 digits) or milliseconds (13)' }], 'no click was stored');
      const now = deps.now();
      let stored = 0;
      for (const [shard, group] of await groupByShard(shardsOf(deps), rows, (r) => r.appId))
        stored += storedClicks(await shard.writer.run(async (tx) => tx.batch(clickStatements(tx.db, group, now, clickLinks(group, await tx.settings())))));
      return c.json({ received: rows.length, stored, duplicates: rows.length - stored }, 200);
    },
  );
}
