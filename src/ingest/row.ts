// A read and verified postback as the row skanpost keeps: the body as stored, its hash, the
// verdict and the fields under Apple's names.
import type { NewPostbackRow } from '../db/schema.js';
import { sha256Hex } from '../hash.js';
import { dedupeKey } from '../postback/dedupe.js';
import type { ReadPostback } from '../postback/read.js';
import type { Inspection } from '../postback/types.js';

/** The columns a verdict sets: kept together, since `reverify` rewrites them as one. */
export function verdictColumns(inspection: Inspection) {
  // Object.assign rather than spreads: see buildPostbackRow.
  return Object.assign(
    {
      environment: inspection.environment,
      version: inspection.version,
      signature: inspection.signature,
      reasons: inspection.reasons,
      keyId: inspection.key,
    },
    inspection.fields,
  );
}

/** A copy that came from Apple's device itself; a relayed one is `relay:<relay key name>`. */
export const DIRECT = 'direct';

export function buildPostbackRow(postback: ReadPostback, inspection: Inspection, receivedAt: Date, channel = DIRECT): NewPostbackRow {
  // Node 20's V8 builds `{ a, ...b }` fast but `{ ...a, b }` 30-100x slower than Object.assign,
  // which builds both as fast: a few µs per postback on the server's busiest thread (BENCHMARKS.md).
  return Object.assign(
    {
      receivedAt,
      channel,
      protocol: inspection.protocol,
      outcome: 'stored' as const,
      dedupeKey: dedupeKey(inspection),
      bodySha256: sha256Hex(postback.text),
      body: postback.text,
    },
    verdictColumns(inspection),
  );
}
