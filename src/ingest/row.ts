// A read and verified postback as the row skanpost keeps: the body as stored, its hash, the
// verdict and the fields under Apple's names.
import type { NewPostbackRow } from '../db/schema.js';
import { sha256Hex } from '../hash.js';
import { dedupeKey } from '../postback/dedupe.js';
import type { ReadPostback } from '../postback/read.js';
import type { Inspection, PostbackFields } from '../postback/types.js';

/** The columns a verdict sets: kept together, since `reverify` rewrites them as one. */
export function verdictColumns(inspection: Inspection) {
  // Built on a copy of the fields (Object.assign onto an empty object copies their shape whole)
  // with the rest set by name. Node 20's V8 turns an object that gains more than a dozen properties
  // by a spread, a computed key or a later Object.assign source into a slow dictionary, and a
  // spread copy that gains properties costs 30-100x more to build (BENCHMARKS.md): this row is
  // built, cloned to the writer thread and bound on every postback.
  const columns = Object.assign({} as PostbackFields & Pick<NewPostbackRow, 'environment' | 'version' | 'signature' | 'reasons' | 'keyId'>, inspection.fields);
  columns.environment = inspection.environment;
  columns.version = inspection.version;
  columns.signature = inspection.signature;
  columns.reasons = inspection.reasons;
  columns.keyId = inspection.key;
  return columns;
}

/** A copy that came from Apple's device itself; a relayed one is `relay:<relay key name>`. */
export const DIRECT = 'direct';

export function buildPostbackRow(postback: ReadPostback, inspection: Inspection, receivedAt: Date, channel = DIRECT, hash = sha256Hex): NewPostbackRow {
  // Set by name as well: an Object.assign of these seven made the row a dictionary (slow
  // properties) on every postback, to be cloned to the writer thread and read there.
  const row = verdictColumns(inspection) as ReturnType<typeof verdictColumns> & Partial<NewPostbackRow>;
  row.receivedAt = receivedAt;
  row.channel = channel;
  row.protocol = inspection.protocol;
  row.outcome = 'stored';
  row.dedupeKey = dedupeKey(inspection);
  row.bodySha256 = hash(postback.text);
  row.body = postback.text;
  return row as NewPostbackRow;
}
