// What a destination may be: checked on every save (macros, formats, methods), merged on a
// partial change, filled by a backfill with the postbacks it wants, and shown without its secrets.
import { type DestinationColumns, getDestination, insertDeliveries, insertDestination, replaceDestination } from '../db/destinations.js';
import { storedSince } from '../db/postbacks.js';
import type { DestinationRow } from '../db/schema.js';
import type { Unit } from '../db/store.js';
import { FieldError } from '../model/field-error.js';
import { DestinationInput, maskUrlPassword } from './destination-input.js';
import { wants } from './route.js';
import { unknownMacros } from './template.js';

/** A destination that cannot be saved as asked; `field` names the input field at fault. */
export class DestinationError extends FieldError {}

/** The saved destination as the input that would save it again, so a partial change can be merged into it. */
const asInput = (d: DestinationRow): Record<string, unknown> => ({
  name: d.name,
  url: d.url,
  method: d.method,
  format: d.format,
  body_template: d.bodyTemplate,
  enriched_keys: d.enrichedKeys,
  filters: d.filters,
  headers: d.headers,
  secret: d.secret,
  retry: d.retry,
  timeout_ms: d.timeoutMs,
  enabled: d.enabled,
});

/** What a client sees of a destination: the secret only as whether one is set, a URL's password masked. */
export function publicDestination(d: DestinationRow) {
  const { secret: _, ...saved } = asInput(d);
  return {
    id: d.id,
    ...saved,
    url: maskUrlPassword(d.url),
    has_secret: d.secret !== null,
    paused: d.paused,
    last_error: d.lastError,
    created_at: d.createdAt.toISOString(),
    updated_at: d.updatedAt.toISOString(),
  };
}

function check(input: DestinationInput): void {
  for (const [field, template] of [
    ['url', input.url],
    ['body_template', input.body_template ?? ''],
  ] as const) {
    const unknown = unknownMacros(template);
    if (unknown.length) throw new DestinationError(field, `unknown macro${unknown.length > 1 ? 's' : ''} ${unknown.map((m) => `{${m}}`).join(', ')}`);
  }
  if (input.format !== 'template' && input.body_template) throw new DestinationError('body_template', 'a body template needs format "template"');
  if (input.method === 'GET' && (input.format !== 'template' || input.body_template))
    throw new DestinationError('method', 'GET sends no body: use it with format "template" and no body_template');
}

const columns = (input: DestinationInput): DestinationColumns => ({
  name: input.name,
  url: input.url,
  method: input.method,
  format: input.format,
  bodyTemplate: input.body_template ?? null,
  enrichedKeys: input.enriched_keys,
  filters: input.filters,
  headers: input.headers,
  secret: input.secret ?? null,
  retry: input.retry,
  timeoutMs: input.timeout_ms,
  enabled: input.enabled,
});

export async function createDestination(tx: Unit, input: DestinationInput, now: Date): Promise<DestinationRow> {
  check(input);
  return insertDestination(tx, columns(input), now);
}

/** Applies a partial change; a secret left out is kept, `null` removes it. Every check runs on the result. */
export async function updateDestination(tx: Unit, id: number, patch: Record<string, unknown>, now: Date): Promise<DestinationRow | undefined> {
  const current = await getDestination(tx.db, id);
  if (!current) return undefined;
  const merged = DestinationInput.safeParse({ ...asInput(current), ...patch });
  if (!merged.success) {
    const issue = merged.error.issues[0]!;
    throw new DestinationError(issue.path.join('.') || '(body)', issue.message);
  }
  check(merged.data);
  return replaceDestination(tx, id, columns(merged.data), now);
}

/**
 * Queues copies of stored postbacks received since `since` that the destination wants, one chunk
 * of ids after `afterId`; postbacks it already has a delivery for are skipped.
 */
export async function backfill(
  tx: Unit,
  destination: DestinationRow,
  since: Date,
  now: Date,
  afterId = 0,
  chunk = 500,
): Promise<{ queued: number; lastId: number; done: boolean }> {
  const rows = await storedSince(tx.db, since, afterId, chunk);
  const queued = await insertDeliveries(
    tx,
    destination.id,
    rows.filter((p) => wants(destination, p)).map((p) => p.id),
    now,
  );
  return { queued, lastId: rows.at(-1)?.id ?? afterId, done: rows.length < chunk };
}
