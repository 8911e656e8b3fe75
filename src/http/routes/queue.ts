// Queue mode's dead letters (Workers): the postbacks the ingest queue gave up on, listed for admins
// and replayed to the ingest queues. They act on every app's postbacks: unscoped admins only.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { deadLettersById, forgetDeadLetters, listDeadLetters } from '../../db/dead-letters.js';
import type { QueueDeadLetterRow } from '../../db/schema.js';
import { fromMessage } from '../../ingest/queue.js';
import { FieldError } from '../../model/field-error.js';
import { requireRole } from '../auth.js';
import type { AppEnv } from '../deps.js';
import { anyJson, bearer, Count, errorResponses, jsonBody, strictJson } from '../openapi.js';

const admin = requireRole('admin', { unscoped: true });

const ListParams = z
  .object({
    cursor: Count.optional().openapi({ description: 'next_cursor of the previous page' }),
    limit: Count.pipe(z.number().int().min(1).max(1000)).optional().openapi({ description: 'page size, default 100, at most 1000' }),
  })
  .strict();

const Replay = z
  .object({ ids: z.array(z.number().int().min(1)).min(1).max(100) })
  .strict()
  .openapi('DeadLetterReplay');

function view(row: QueueDeadLetterRow) {
  let postback: Record<string, unknown> | null = null;
  try {
    const queued = fromMessage(JSON.parse(row.body));
    if (queued.kind === 'postback') {
      const r = queued.row;
      postback = {
        kind: 'postback',
        ad_network_id: r.adNetworkId ?? null,
        transaction_id: r.transactionId ?? null,
        signature: r.signature,
        received_at: r.receivedAt.toISOString(),
      };
    } else if (queued.kind === 'mmp') {
      const f = queued.read.fields;
      postback = { kind: 'mmp', mmp_partner_id: queued.partnerId, event_name: f.eventName, click_id: f.clickId, received_at: queued.receivedAt.toISOString() };
    } else {
      postback = { kind: 'click', link_id: queued.click.linkId, click_id: queued.click.clickId, received_at: queued.click.clickedAt.toISOString() };
    }
  } catch {
    // Not a postback message: shown as it is, for the record.
  }
  return { id: row.id, message_id: row.messageId, attempts: row.attempts, dead_since: row.receivedAt.toISOString(), postback, body: row.body };
}

export function queueRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/queue/dead-letters',
      summary: "Queue mode: postbacks the ingest queue gave up on (its dead-letter queue's messages)",
      security: bearer,
      middleware: [admin] as const,
      request: { query: ListParams },
      responses: { 200: anyJson('{"dead_letters": [...], "next_cursor"}'), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const p = c.req.valid('query');
      const limit = p.limit ?? 100;
      const rows = await listDeadLetters(c.get('deps').db, p.cursor ?? 0, limit);
      return c.json({ dead_letters: rows.map(view), next_cursor: rows.length === limit ? rows.at(-1)!.id : null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/queue/dead-letters/replay',
      summary: 'Queue mode: send dead letters to the ingest queues again (at most 100 per request); replayed ones leave the list',
      security: bearer,
      middleware: [admin, strictJson] as const,
      request: jsonBody(Replay),
      responses: { 200: anyJson('{"replayed"}'), ...errorResponses(400, 401, 403, 413) },
    }),
    async (c) => {
      const deps = c.get('deps');
      if (!deps.requeue) throw new FieldError('ids', 'dead letters are replayed to the ingest queues: SKANPOST_INGEST_MODE=queue is off');
      const rows = await deadLettersById(deps.db, c.req.valid('json').ids);
      // Sent first, forgotten after: a replay cut short sends again rather than losing one.
      await deps.requeue(rows.map((r) => JSON.parse(r.body) as unknown));
      if (rows.length)
        await deps.writer.run((tx) =>
          tx.batch([
            forgetDeadLetters(
              tx.db,
              rows.map((r) => r.id),
            ),
          ]),
        );
      return c.json({ replayed: rows.length }, 200);
    },
  );
}
