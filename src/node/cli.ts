// The `skanpost` command line: verify a body, re-verify stored rows.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, readConfig } from '../config.js';
import { inspectPostback } from '../postback/inspect.js';
import { KeyConfigError } from '../postback/keys.js';
import { readPostback } from '../postback/read.js';
import { jsonLogger } from './logger.js';
import { reverify } from './reverify.js';
import { createNodeRuntime, createVerification } from './runtime.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

const USAGE = `usage: skanpost <command>

commands:
  verify FILE|-   verify one postback body (a file, or - for stdin); prints JSON.
                  exit 0 verified, 1 any other verdict, 2 a body the server would refuse (400)
  reverify        re-run verification on stored invalid and unverifiable rows (SKANPOST_DB)

environment: SKANPOST_DB, SKANPOST_EXTRA_KEYS (see README)`;

class UsageError extends Error {}

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdin: () => Uint8Array;
  env: Record<string, string | undefined>;
}

// JSON.stringify leaves U+2063 as an invisible raw character; spell it out so it can be seen.
const showSeparators = (json: string) => json.replace(/\u2063/g, '\\u2063');

async function verifyCommand(args: string[], io: Io): Promise<number> {
  const [file, ...rest] = args;
  if (file === undefined || rest.length > 0) throw new UsageError('verify takes exactly one FILE (or - for stdin)');
  let bytes: Uint8Array;
  try {
    bytes = file === '-' ? io.stdin() : readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const read = readPostback(bytes);
  if (!read.ok) {
    io.stdout(JSON.stringify({ error: 'the server would refuse this body with 400', problems: read.problems }, null, 2));
    return EXIT.usage;
  }
  const verification = await createVerification(io.env.SKANPOST_EXTRA_KEYS ?? '');
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
    fields: Object.fromEntries(Object.entries(inspection.fields).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v])),
  };
  io.stdout(showSeparators(JSON.stringify(output, null, 2)));
  return inspection.signature === 'verified' ? EXIT.ok : EXIT.failure;
}

async function reverifyCommand(args: string[], io: Io): Promise<number> {
  if (args.length > 0) throw new UsageError('reverify takes no arguments');
  const runtime = await createNodeRuntime(readConfig(io.env), jsonLogger(io.stderr));
  try {
    const summary = await reverify(runtime.db, runtime.writer, runtime.deps.verification, runtime.deps.installModel);
    io.stdout(JSON.stringify(summary));
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}

export async function runCli(argv: string[], io: Io): Promise<number> {
  try {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { help: { type: 'boolean', short: 'h' } } });
    const [command, ...args] = positionals;
    if (values.help || command === 'help') {
      io.stdout(USAGE);
      return EXIT.ok;
    }
    if (command === 'verify') return await verifyCommand(args, io);
    if (command === 'reverify') return await reverifyCommand(args, io);
    throw new UsageError(command === undefined ? 'no command given' : `unknown command ${JSON.stringify(command)}`);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof KeyConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`skanpost: ${(error as Error).message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    io.stderr(`skanpost: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failure;
  }
}
