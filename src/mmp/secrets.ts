// The secrets that sign and check click IDs: SKANPOST_CLICK_SECRET's list when set (the first
// signs, all validate, so a new one can be put first and the old dropped once its clicks are past
// their lookback), else one generated on first use and kept in the database, the same for every
// process and isolate.
import { serverSecret } from '../db/mmp.js';
import type { Writer } from '../db/store.js';

const freshSecret = () => {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes));
};

/** Where the database's secret is kept once read: per source, or shared (a Worker's isolate keeps one across requests). */
export interface SecretCache {
  stored?: Promise<readonly string[]> | undefined;
}

/** The secrets, read once and kept in `cache` (a failed read is tried again on the next call). */
export function clickSecretSource(configured: readonly string[], writer: Writer, now: () => Date, cache: SecretCache = {}): () => Promise<readonly string[]> {
  if (configured.length > 0) {
    const secrets = Promise.resolve(configured);
    return () => secrets;
  }
  return () => {
    cache.stored ??= writer
      .run((tx) => serverSecret(tx, 'click_id', freshSecret, now()))
      .then(
        (secret) => [secret],
        (error: unknown) => {
          cache.stored = undefined;
          throw error;
        },
      );
    return cache.stored;
  };
}
