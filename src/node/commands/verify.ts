// `skanpost verify FILE`: one postback body read and verified as ingest would, printed as JSON.
import { inspectPostback } from '../../postback/inspect.js';
import { KeyConfigError } from '../../postback/keys.js';
import { MAX_POSTBACK_BYTES, readPostback } from '../../postback/read.js';
import { snakeKeys } from '../../postback/types.js';
import { createVerification } from '../crypto.js';
import { EXIT, type Io, readInput, UsageError } from './usage.js';

// JSON.stringify leaves U+2063 as an invisible raw character; spell it out so it can be seen.
const showSeparators = (json: string) => json.replace(/\u2063/g, '\\u2063');

export async function verifyCommand(args: string[], io: Io): Promise<number> {
  const [file, ...rest] = args;
  if (file === undefined || rest.length > 0) throw new UsageError('verify takes exactly one FILE (or - for stdin)');
  const bytes = readInput(file, io);
  if (bytes.byteLength > MAX_POSTBACK_BYTES) {
    io.stdout(
      JSON.stringify(
        { error: 'the server would refuse this body with 413', problems: [{ field: 'body', reason: `${bytes.byteLength} bytes, over the limit of ${MAX_POSTBACK_BYTES}` }] },
        null,
        2,
      ),
    );
    return EXIT.usage;
  }
  const read = readPostback(bytes);
  if (!read.ok) {
    io.stdout(JSON.stringify({ error: 'the server would refuse this body with 400', problems: read.problems }, null, 2));
    return EXIT.usage;
  }
  let verification: Awaited<ReturnType<typeof createVerification>>;
  try {
    verification = await createVerification(io.env.SKANPOST_EXTRA_KEYS ?? '');
  } catch (error) {
    if (error instanceof KeyConfigError) throw new UsageError(error.message);
    throw error;
  }
  const inspection = await inspectPostback(read.postback, verification);
  const output = {
    protocol: inspection.protocol,
    version: inspection.version,
    environment: inspection.environment,
    signature: inspection.signature,
    reasons: inspection.reasons,
    key: inspection.key,
    message: inspection.message,
    message_base64: inspection.message === null ? null : Buffer.from(inspection.message, 'utf8').toString('base64'),
    fields: snakeKeys(inspection.fields),
  };
  io.stdout(showSeparators(JSON.stringify(output, null, 2)));
  return inspection.signature === 'verified' ? EXIT.ok : EXIT.failure;
}
