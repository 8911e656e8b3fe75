// `skanpost import FILE.ndjson`: each line a bare postback or {"received_at", "body"}, through the
// same pipeline as HTTP ingest, many in flight so group commit batches them.
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ingestPostback, type IngestDeps } from '../../ingest/ingest.js';
import { isJsonObject, parseStrictJson, toPlain } from '../../postback/json.js';

export interface ImportSummary {
  lines: number;
  /** Lines refused as the server would refuse them (400), with the first reasons. */
  rejected: number;
  outcomes: Record<string, number>;
  signatures: Record<string, number>;
  errors: Array<{ line: number; problems: unknown }>;
}

const encoder = new TextEncoder();
const IN_FLIGHT = 256;

/** An envelope is exactly {"received_at": RFC 3339, "body": {...}}; anything else is a bare postback. */
function unwrap(line: string): { bytes: Uint8Array; receivedAt?: Date } | { error: string } {
  let value;
  try {
    value = parseStrictJson(line);
  } catch {
    return { bytes: encoder.encode(line) }; // the pipeline will say what is wrong with it
  }
  if (isJsonObject(value) && Object.keys(value).length === 2 && 'received_at' in value && 'body' in value) {
    const at = typeof value.received_at === 'string' ? new Date(value.received_at) : undefined;
    if (!at || Number.isNaN(at.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(value.received_at as string)) return { error: 'received_at must be an RFC 3339 time' };
    return { bytes: encoder.encode(JSON.stringify(toPlain(value.body!))), receivedAt: at };
  }
  return { bytes: encoder.encode(line) };
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

  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) {
    bytesDone += Buffer.byteLength(line) + 1;
    if (line.trim() === '') continue;
    const number = ++summary.lines;
    const unwrapped = unwrap(line);
    if ('error' in unwrapped) {
      reject(number, [{ field: 'received_at', reason: unwrapped.error }]);
      continue;
    }
    const task = ingestPostback(unwrapped.bytes, deps, unwrapped.receivedAt ?? deps.now()).then((result) => {
      if (!result.ok) return reject(number, result.problems);
      summary.outcomes[result.receipt.outcome] = (summary.outcomes[result.receipt.outcome] ?? 0) + 1;
      summary.signatures[result.receipt.signature] = (summary.signatures[result.receipt.signature] ?? 0) + 1;
    });
    const tracked = task.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    progress?.(bytesDone, total);
  }
  await Promise.all(inFlight);
  progress?.(total, total);
  return summary;
}
