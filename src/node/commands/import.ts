// `skanpost import FILE.ndjson`: each line a bare postback or an envelope {"received_at", "raw"
// and/or "body"}, through the same pipeline as HTTP ingest. Many are verified at once, but they are
// stored in file order, so the first copy in the file is the first copy kept, as over HTTP.
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type IngestDeps, type Prepared, preparePostback, type Receipt, storePrepared } from '../../ingest/ingest.js';
import { isJsonObject, type JsonValue, MAX_JSON_DEPTH, parseStrictJson, stringifyJson } from '../../postback/json.js';

export interface ImportSummary {
  /** Lines that held something (blank lines are skipped). */
  lines: number;
  /** Lines refused as the server would refuse them (400), with the first reasons. */
  rejected: number;
  outcomes: Record<string, number>;
  signatures: Record<string, number>;
  /** `line` is the line's number in the file, counting blank lines. */
  errors: Array<{ line: number; problems: unknown }>;
}

const encoder = new TextEncoder();
const IN_FLIGHT = 256;
const ENVELOPE_KEYS = new Set(['received_at', 'raw', 'body']);

type Unwrapped = { bytes: Uint8Array; receivedAt?: Date } | { problems: Array<{ field: string; reason: string }> };

/**
 * An object with `received_at` is an envelope: `raw` (the body as stored, a string) is used when
 * present, else `body` re-serialized with its numbers as written. Anything else is a bare
 * postback. The envelope may nest one level deeper than a postback, since it wraps one.
 */
function unwrap(line: string): Unwrapped {
  let value: JsonValue;
  try {
    value = parseStrictJson(line, MAX_JSON_DEPTH + 1);
  } catch {
    return { bytes: encoder.encode(line) }; // the pipeline will say what is wrong with it
  }
  if (!isJsonObject(value) || !('received_at' in value)) return { bytes: encoder.encode(line) };
  const unknown = Object.keys(value).filter((k) => !ENVELOPE_KEYS.has(k));
  if (unknown.length) return { problems: unknown.map((field) => ({ field, reason: 'not an envelope key (received_at, raw, body)' })) };
  const at = value.received_at;
  const receivedAt = typeof at === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(at) ? new Date(at) : undefined;
  if (!receivedAt || Number.isNaN(receivedAt.getTime())) return { problems: [{ field: 'received_at', reason: 'must be an RFC 3339 time' }] };
  if ('raw' in value) {
    if (typeof value.raw !== 'string') return { problems: [{ field: 'raw', reason: 'must be the body as a string' }] };
    return { bytes: encoder.encode(value.raw), receivedAt };
  }
  if (!('body' in value)) return { problems: [{ field: 'body', reason: 'an envelope needs raw or body' }] };
  return { bytes: encoder.encode(stringifyJson(value.body!)), receivedAt };
}

export async function importFile(path: string, deps: IngestDeps, progress?: (done: number, total: number) => void): Promise<ImportSummary> {
  const summary: ImportSummary = { lines: 0, rejected: 0, outcomes: {}, signatures: {}, errors: [] };
  const total = statSync(path).size;
  let bytesDone = 0;
  const inFlight = new Set<Promise<void>>();
  const reject = (line: number, problems: unknown) => {
    summary.rejected++;
    if (summary.errors.length < 100) summary.errors.push({ line, problems });
  };
  const count = (receipt: Receipt) => {
    summary.outcomes[receipt.outcome] = (summary.outcomes[receipt.outcome] ?? 0) + 1;
    summary.signatures[receipt.signature] = (summary.signatures[receipt.signature] ?? 0) + 1;
  };
  // Each line's write is handed to the writer only after the previous line's was.
  let handedOver: Promise<unknown> = Promise.resolve();

  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    bytesDone += Buffer.byteLength(line) + 1;
    if (line.trim() === '') continue;
    summary.lines++;
    const at = number;
    const unwrapped = unwrap(line);
    if ('problems' in unwrapped) {
      reject(at, unwrapped.problems);
      continue;
    }
    const prepared = preparePostback(unwrapped.bytes, deps.verification, unwrapped.receivedAt ?? deps.now());
    // `storePrepared` queues the write before it returns; the promise is wrapped so that this
    // step settles once the write is handed over, not once it is done.
    const handed = handedOver.then(() => prepared).then((p: Prepared) => (p.ok ? { ok: true as const, saving: storePrepared(p, deps) } : p));
    handedOver = handed.catch(() => undefined);
    const stored = handed.then(async (h) => (h.ok ? count(await h.saving) : reject(at, h.problems)));
    const tracked = stored.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    progress?.(bytesDone, total);
  }
  await Promise.all(inFlight);
  progress?.(total, total);
  return summary;
}
