// The MMP side of the API: partners (admin), the intake each partner's postbacks arrive at
// (`/mmp/:partner_id?token=…`, open but for the token and the partner's allowlist), and the stored
// MMP postbacks (analyst, scoped).

import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { StorageUnavailableError } from '../../db/db.js';
import { getMmpPostback, getPartner, listMmpPostbacks, listPartners, type MmpPostbackFilter } from '../../db/mmp.js';
import type { MmpPartnerRow, MmpPostbackRow } from '../../db/schema.js';
import { AppHeldError, outside, pageAcross, splitId } from '../../db/shards.js';
import { CLICK_REJECTIONS, readMmpPostback, saveMmpPostback } from '../../mmp/intake.js';
import { changePartner, createPartner, PartnerInput, partnerRanges, publicPartner, removePartner, rotateToken, tokenMatches } from '../../mmp/partners.js';
import { inRanges, parseCidrList, type Range } from '../../model/cidr.js';
import type { MmpRefuseReason } from '../../observability/metrics.js';
import { requireRole, withinScope } from '../auth.js';
import { clientAddress, limitBody } from '../client-guard.js';
import { type AppEnv, type Principal, shardsOf } from '../deps.js';
import { NotFoundError } from '../errors.js';
import { AppIds, anyJson, bearer, Count, errorResponses, IdParams, Instant, json, jsonBody, List, ndjsonExport, noContent, oneOf, servedTwice, strictJson } from '../openapi.js';
import { problem } from '../problem.js';
import { rateLimit } from '../rate-limit.js';
import { publicOrigin } from './links.js';

/** An MMP postback's request: its body, or its URL for a GET. */
const MAX_MMP_BYTES = 16 * 1024;

const refused = (c: Context<AppEnv>, reason: MmpRefuseReason) => c.get('deps').metrics.mmpRefused.inc({ reason });

// Parsed once per distinct list: partners' allowlists change rarely, postbacks arrive often.
const rangeCache = new Map<string, Range[]>();
function rangesOf(partner: MmpPartnerRow): Range[] {
  const list = partnerRanges(partner);
  const key = list.join(',');
  let ranges = rangeCache.get(key);
  if (!ranges) {
    if (rangeCache.size > 1000) rangeCache.clear();
    ranges = parseCidrList(key).ranges;
    rangeCache.set(key, ranges);
  }
  return ranges;
}

/** A JSON body's values as the strings a query would carry (event_value may be an object: kept as JSON text). */
const asText = (value: unknown) => (typeof value === 'string' ? value : value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));

/** The request's parameters: the query's, then the body's (form-encoded or JSON) over them. */
async function requestParams(c: Context): Promise<Record<string, string> | { problem: string }> {
  const params: Record<string, string> = {};
  const url = new URL(c.req.url);
  for (const [name, value] of url.searchParams) if (!(name in params)) params[name] = value;
  if (c.req.method !== 'POST') return params;
  const text = await c.req.text();
  if (text.trim() === '') return params;
  const type = c.req.header('content-type')?.toLowerCase() ?? '';
  if (type.includes('json') || (!type.includes('form') && text.trimStart().startsWith('{'))) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { problem: 'the body is not valid JSON' };
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return { problem: 'a JSON body is one object of parameters' };
    for (const [name, value] of Object.entries(body)) params[name] = asText(value);
    return params;
  }
  for (const [name, value] of new URLSearchParams(text)) params[name] = value;
  return params;
}

function tooLarge(c: Context): Response {
  refused(c as Context<AppEnv>, 'body_too_large');
  return problem(c, 413, 'body_too_large', 'Payload Too Large', { detail: `an MMP postback is limited to ${MAX_MMP_BYTES} bytes` });
}

const MmpReceipt = z
  .object({
    id: z.number().int().nullable().openapi({ description: 'null when queued (SKANPOST_INGEST_MODE=queue): the consumer stores it' }),
    outcome: z.enum(['accepted', 'unattributed', 'fraud_rejected', 'duplicate', 'queued']),
    reasons: z.array(z.string()),
  })
  .openapi('MmpReceipt');

function describeMmpPostback(row: MmpPostbackRow) {
  return {
    id: row.id,
    mmp_partner_id: row.partnerId,
    received_at: row.receivedAt.toISOString(),
    outcome: row.outcome,
    reasons: row.reasons,
    click_id: row.clickId,
    link_id: row.linkId,
    app_id: row.appId,
    ad_network_id: row.adNetworkId,
    network_campaign_id: row.networkCampaignId,
    campaign: row.campaign,
    sub1: row.sub1,
    sub2: row.sub2,
    sub3: row.sub3,
    sub4: row.sub4,
    sub5: row.sub5,
    event_name: row.eventName,
    event_id: row.eventId,
    event_value: row.eventValue,
    revenue: row.revenue,
    currency: row.currency,
    event_time: row.eventTime.toISOString(),
    install_time: row.installTime?.toISOString() ?? null,
    click_time: row.clickTime?.toISOString() ?? null,
    ctit_seconds: row.ctitSeconds,
    touch_type: row.touchType,
    is_reattribution: row.isReattribution,
    attributed: row.attributed,
    rejected: row.rejected,
    reject_reason: row.rejectReason,
    country_code: row.countryCode,
    os: row.os,
    /** The partner's parameters as received (only those its mapping names), as a JSON object of strings. */
    raw: row.raw,
  };
}

const MmpListParams = z
  .object({
    app_id: AppIds.optional(),
    ad_network_id: List.pipe(z.array(z.string()).min(1)).optional(),
    mmp_partner_id: List.pipe(
      z
        .array(
          z
            .string()
            .regex(/^\d{1,15}$/, 'a partner id is an integer')
            .transform(Number),
        )
        .min(1),
    ).optional(),
    outcome: oneOf(['accepted', 'unattributed', 'fraud_rejected', 'rejected'] as const),
    event_name: List.pipe(z.array(z.string()).min(1)).optional(),
    since: Instant.optional().openapi({ description: 'received at or after: an RFC 3339 time, or a day (YYYY-MM-DD, from 00:00 UTC)' }),
    until: Instant.optional().openapi({ description: 'received before: an RFC 3339 time, or a day (YYYY-MM-DD, from 00:00 UTC)' }),
    cursor: Count.optional().openapi({ description: 'next_cursor of the previous page' }),
    limit: Count.pipe(z.number().min(1).max(1000)).optional().openapi({ description: 'page size, default 100 (JSON); NDJSON exports everything unless given' }),
    format: z.enum(['json', 'ndjson']).optional(),
  })
  .strict();

const scopeFilter = (principal: Principal): MmpPostbackFilter => ({ appIds: principal.appIds ?? undefined, adNetworkIds: principal.adNetworkIds ?? undefined });

export function mmpRoutes(app: OpenAPIHono<AppEnv>): void {
  // --- partners: they see every app's postbacks, so only unscoped admins manage them.
  const admin = requireRole('admin', { unscoped: true });
  const route = <const R extends Parameters<typeof createRoute>[0]>(config: R) =>
    createRoute({ ...config, security: bearer, middleware: [admin, ...((config.middleware as []) ?? [])] as const });
  const partnerOr404 = async (c: Context<AppEnv>, id: number) => {
    const row = await getPartner(c.get('deps').db, id);
    if (!row) throw new NotFoundError(`MMP partner ${id}`);
    return row;
  };

  servedTwice(
    app,
    route({
      method: 'get',
      path: '/v1/mmp-partners',
      summary: 'MMP partners (tokens never shown)',
      responses: { 200: anyJson('{"mmp_partners": [...]}'), ...errorResponses(401, 403) },
    }),
    async (c) => c.json({ mmp_partners: (await listPartners(c.get('deps').db)).map((p) => publicPartner(p, publicOrigin(c))) }, 200),
  );

  app.openapi(
    route({
      method: 'post',
      path: '/v1/mmp-partners',
      summary: "Add an MMP partner: answered with its token (shown once) and the postback URL templates to paste into the MMP's dashboard",
      middleware: [strictJson],
      request: jsonBody(PartnerInput),
      responses: { 201: anyJson('The partner, its token and postback_url_templates'), ...errorResponses(400, 401, 403, 413) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const input = c.req.valid('json');
      const { partner, token } = await deps.writer.run((tx) => createPartner(tx, input, deps.now()));
      return c.json(publicPartner(partner, publicOrigin(c), token), 201);
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/v1/mmp-partners/{id}',
      summary: 'One MMP partner',
      request: { params: IdParams },
      responses: { 200: anyJson('The partner'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => c.json(publicPartner(await partnerOr404(c, c.req.valid('param').id), publicOrigin(c)), 200),
  );

  app.openapi(
    route({
      method: 'patch',
      path: '/v1/mmp-partners/{id}',
      summary: 'Change some fields (the token stays); every check of a new partner applies to the result',
      middleware: [strictJson],
      request: { params: IdParams, ...jsonBody(z.record(z.string(), z.unknown())) },
      responses: { 200: anyJson('The partner'), ...errorResponses(400, 401, 403, 404, 413) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const current = await partnerOr404(c, c.req.valid('param').id);
      const row = await deps.writer.run((tx) => changePartner(tx, current, c.req.valid('json'), deps.now()));
      if (!row) throw new NotFoundError(`MMP partner ${current.id}`);
      return c.json(publicPartner(row, publicOrigin(c)), 200);
    },
  );

  app.openapi(
    route({
      method: 'post',
      path: '/v1/mmp-partners/{id}/rotate-token',
      summary: 'A new token (shown once, with the templates that carry it); the old one keeps working for 24 hours',
      request: { params: IdParams },
      responses: { 200: anyJson('The partner, its new token and postback_url_templates'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const deps = c.get('deps');
      const current = await partnerOr404(c, c.req.valid('param').id);
      const rotated = await deps.writer.run((tx) => rotateToken(tx, current, deps.now()));
      if (!rotated) throw new NotFoundError(`MMP partner ${current.id}`);
      return c.json(publicPartner(rotated.partner, publicOrigin(c), rotated.token), 200);
    },
  );

  app.openapi(
    route({
      method: 'delete',
      path: '/v1/mmp-partners/{id}',
      summary: 'Remove a partner no link names (409 in_use otherwise); its postbacks stay',
      request: { params: IdParams },
      responses: { 204: noContent('Removed'), ...errorResponses(401, 403, 404), 409: { description: 'Links still name it' } },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      await partnerOr404(c, id);
      if (!(await c.get('deps').writer.run((tx) => removePartner(tx, id)))) throw new NotFoundError(`MMP partner ${id}`);
      return c.body(null, 204);
    },
  );

  // --- the intake
  const limited = rateLimit('postbacks', (c) => refused(c, 'rate_limited'));
  const PartnerParams = z.object({ partner_id: Count.openapi({ param: { name: 'partner_id', in: 'path' }, example: '1' }) });

  async function intake(c: Context<AppEnv>): Promise<Response> {
    const deps = c.get('deps');
    const receivedAt = deps.now();
    const partnerId = /^\d{1,15}$/.test(c.req.param('partner_id') ?? '') ? Number(c.req.param('partner_id')) : undefined;
    const partner = partnerId === undefined ? undefined : await getPartner(deps.db, partnerId);
    // One answer for a wrong token and for no such partner: the intake says nothing of what exists.
    if (!partner || !tokenMatches(partner, new URL(c.req.url).searchParams.get('token') ?? undefined, receivedAt)) {
      refused(c, 'invalid_token');
      return problem(c, 401, 'invalid_token', 'Unauthorized', { detail: 'the token is missing or wrong for this partner (its postback URL carries it)' });
    }
    const g = deps.guard;
    const ranges = rangesOf(partner);
    if (ranges.length > 0 && !inRanges(clientAddress(c.req.raw.headers, g?.socketAddress?.(c), g?.trustedHeader), ranges)) {
      refused(c, 'not_allowed');
      return problem(c, 403, 'not_allowed', 'Forbidden', { detail: "this address is outside the partner's allowlist" });
    }
    if (c.req.url.length > MAX_MMP_BYTES) return tooLarge(c);
    const params = await requestParams(c);
    const read = 'problem' in params ? { ok: false as const, problems: [{ field: '(body)', reason: params.problem }] } : readMmpPostback(partner, params);
    if (!read.ok) {
      refused(c, 'invalid_postback');
      return problem(c, 400, 'invalid_postback', 'Bad Request', { detail: 'the postback cannot be kept; nothing was stored', problems: read.problems });
    }
    let result: Awaited<ReturnType<typeof saveMmpPostback>>;
    try {
      if (deps.enqueue) {
        // Queue mode: the click checks run in the consumer; a rejection is kept there, as `rejected`.
        await deps.enqueue({ kind: 'mmp', partnerId: partner.id, read: read.postback, receivedAt });
        deps.metrics.mmpPostbacks.inc({ outcome: 'queued' });
        return c.json({ id: null, outcome: 'queued' as const, reasons: [] }, 200);
      }
      const secrets = await deps.clickSecrets();
      result = deps.saveMmp
        ? await deps.saveMmp({ partner, read: read.postback, receivedAt, secrets })
        : await deps.writer.run((tx) => saveMmpPostback(tx, partner, read.postback, receivedAt, secrets));
    } catch (error) {
      // A move holds the app's writes: kept, and written (click checks and all) after its switch.
      if (error instanceof AppHeldError && deps.park) {
        await deps.park({ kind: 'mmp', partnerId: partner.id, read: read.postback, receivedAt }, error.appId);
        deps.metrics.mmpPostbacks.inc({ outcome: 'queued' });
        return c.json({ id: null, outcome: 'queued' as const, reasons: [] }, 200);
      }
      if (error instanceof StorageUnavailableError) refused(c, 'storage_unavailable');
      throw error;
    }
    deps.metrics.mmpPostbacks.inc({ outcome: result.outcome });
    if (result.outcome !== 'duplicate') deps.afterStore?.();
    if (result.rejection) {
      return problem(c, 422, result.rejection, 'Unprocessable Content', {
        detail: `kept as rejected: ${result.reasons.join('; ')}`,
        id: result.id,
        outcome: result.outcome,
        reasons: result.reasons,
      });
    }
    return c.json({ id: result.id, outcome: result.outcome, reasons: result.reasons }, 200);
  }

  for (const method of ['get', 'post'] as const) {
    app.openapi(
      createRoute({
        method,
        path: '/mmp/{partner_id}',
        summary: `An MMP's postback (${method === 'get' ? 'query parameters' : 'form-encoded or JSON body, query parameters too'}; at most 16 KiB), with ?token=`,
        middleware: [limited, limitBody(MAX_MMP_BYTES, tooLarge)] as const,
        request: { params: PartnerParams },
        responses: {
          ...errorResponses(400, 503),
          200: json('Kept (or a duplicate of a kept one)', MmpReceipt),
          401: { description: 'invalid_token' },
          403: { description: "not_allowed: outside the partner's allowlist" },
          413: { description: 'body_too_large' },
          422: { description: `Kept as rejected; reason: ${CLICK_REJECTIONS.join(', ')}` },
        },
      }),
      (c) => intake(c) as never,
      // Any path that is not a partner id gets the same answer as a wrong token.
      (result, c) => {
        if (result.success) return undefined;
        refused(c as Context<AppEnv>, 'invalid_token');
        return problem(c, 401, 'invalid_token', 'Unauthorized', { detail: 'no such partner' });
      },
    );
  }

  // --- stored MMP postbacks
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/mmp-postbacks',
      summary: 'Stored MMP postbacks, oldest first; format=ndjson exports one per line (raw: the parameters as received)',
      security: bearer,
      middleware: [requireRole('analyst')] as const,
      request: { query: MmpListParams },
      responses: {
        200: {
          description: 'A page, or an NDJSON export',
          content: {
            'application/json': { schema: z.object({ mmp_postbacks: z.array(z.object({}).passthrough()), next_cursor: z.number().int().nullable() }) },
            'application/x-ndjson': { schema: z.string() },
          },
        },
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const shards = shardsOf(c.get('deps'));
      const p = c.req.valid('query');
      const principal = c.get('principal');
      const filter: MmpPostbackFilter = {
        appIds: withinScope('app_id', p.app_id, principal.appIds) as number[] | undefined,
        adNetworkIds: withinScope('ad_network_id', p.ad_network_id, principal.adNetworkIds) as string[] | undefined,
        partnerIds: p.mmp_partner_id,
        outcomes: p.outcome,
        eventNames: p.event_name,
        since: p.since ? new Date(p.since) : undefined,
        until: p.until ? new Date(p.until) : undefined,
      };
      const over = await shards.holding(filter.appIds ?? null);
      const page = (after: number, size: number) => pageAcross<MmpPostbackRow>(over, after, size, (shard, local, n) => listMmpPostbacks(shard.db, filter, local, n));
      if (p.format === 'ndjson') return ndjsonExport(c, page, p.cursor ?? 0, p.limit, describeMmpPostback);
      const limit = p.limit ?? 100;
      const rows = await page(p.cursor ?? 0, limit);
      return c.json({ mmp_postbacks: rows.map(describeMmpPostback), next_cursor: rows.length === limit ? rows.at(-1)!.id : null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/mmp-postbacks/{id}',
      summary: 'One MMP postback: its fields, outcome, reasons and parameters as received',
      security: bearer,
      middleware: [requireRole('analyst')] as const,
      request: { params: IdParams },
      responses: { 200: anyJson('The MMP postback'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const shard = shardsOf(c.get('deps')).ofId(id);
      const row = shard && (await getMmpPostback(shard.db, splitId(id).local, scopeFilter(c.get('principal'))));
      if (!row) throw new NotFoundError(`MMP postback ${id}`);
      return c.json(describeMmpPostback(outside(shard, row)), 200);
    },
  );
}
