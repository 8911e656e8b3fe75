// A read and verified postback as the row skanpost keeps: the body as stored, its hash, the
// verdict and the fields under Apple's names.
import type { NewPostbackRow } from '../db/schema.js';
import { sha256Hex } from '../hash.js';
import { dedupeKey } from '../postback/dedupe.js';
import type { ReadPostback } from '../postback/read.js';
import type { Inspection } from '../postback/types.js';

/** The columns a verdict sets: kept together, since `reverify` rewrites them as one. */
export function verdictColumns(inspection: Inspection) {
  return {
    environment: inspection.environment,
    version: inspection.version,
    signature: inspection.signature,
    reasons: inspection.reasons,
    keyId: inspection.key,
    ...inspection.fields,
  };
}

/** A copy that came from Apple's device itself; a relayed one is `relay:<relay key name>`. */
export const DIRECT = 'direct';

export function buildPostbackRow(postback: ReadPostback, inspection: Inspection, receivedAt: Date, channel = DIRECT): NewPostbackRow {
  return {
    receivedAt,
    channel,
    protocol: inspection.protocol,
    outcome: 'stored',
    dedupeKey: dedupeKey(inspection),
    bodySha256: sha256Hex(postback.text),
    body: postback.text,
    ...verdictColumns(inspection),
  };
}
