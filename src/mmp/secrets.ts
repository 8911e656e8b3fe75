// Secrets skanpost signs with: those configured (SKANPOST_CLICK_SECRET's list for click IDs: the
// first signs, all validate, so a new one can be put first and the old dropped once its clicks are
// past their lookback; SKANPOST_SESSION_SECRET for dashboard sessions), else one generated on first
// use and kept in the database, the same for every process and isolate.
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

/**
 * The secrets named `name` (`click_id`, `session`): the configured ones, else one generated once and
 * kept in the database, read once and kept in `cache` (a failed read is tried again on the next call).
 */
export function secretSource(name: string, configured: readonly string[], writer: Writer, now: () => Date, cache: SecretCache = {}): () => Promise<readonly string[]> {
  if (configured.length > 0) {
    const secrets = Promise.resolve(configured);
    return () => secrets;
  }
  return () => {
    cache.stored ??= writer
      .run((tx) => serverSecret(tx, name, freshSecret, now()))
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

export const clickSecretSource = (configured: readonly string[], writer: Writer, now: () => Date, cache?: SecretCache) => secretSource('click_id', configured, writer, now, cache);
