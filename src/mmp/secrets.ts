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

/** The secrets, read once and kept (a failed read is tried again on the next call). */
export function clickSecretSource(configured: readonly string[], writer: Writer, now: () => Date): () => Promise<readonly string[]> {
  if (configured.length > 0) {
    const secrets = Promise.resolve(configured);
    return () => secrets;
  }
  let stored: Promise<readonly string[]> | undefined;
  return () => {
    stored ??= writer
      .run((tx) => serverSecret(tx, 'click_id', freshSecret, now()))
      .then(
        (secret) => [secret],
        (error: unknown) => {
          stored = undefined;
          throw error;
        },
      );
    return stored;
  };
}
