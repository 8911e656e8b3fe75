// The one entry point for verdicts, shared by HTTP ingest, the CLI and `reverify`.
import { inspectAak } from './aak.js';
import type { EcdsaVerifier } from './ecdsa.js';
import type { KeyRing } from './keys.js';
import type { ReadPostback } from './read.js';
import { inspectSkan } from './skan.js';
import type { Inspection } from './types.js';

export interface Verification {
  keys: KeyRing;
  verifier: EcdsaVerifier;
  /** The runtime's own SHA-256 for the body's hash, where it has a faster one than hash.ts's. */
  sha256Hex?: (text: string) => string;
}

export async function inspectPostback(postback: ReadPostback, { keys, verifier }: Verification): Promise<Inspection> {
  const inspection = postback.protocol === 'aak' ? await inspectAak(postback.body, keys, verifier) : await inspectSkan(postback.body, keys, verifier);
  if (postback.bomDropped) inspection.reasons.unshift('body: leading byte-order mark dropped');
  return inspection;
}
