// The `skanpost` command line. Exit codes: 0 success, 1 the work failed, 2 bad usage.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, readConfig } from '../config.js';
import { createApiKey, publicKey } from '../db/api-keys.js';
import { rebuildRunning, startRebuild } from '../db/jobs.js';
import { reportedStatements } from '../db/reported.js';
import { pruneExpired } from '../db/retention.js';
import { GuardConfigError } from '../http/client-guard.js';
import { MAX_POSTBACK_BYTES } from '../ingest/ingest.js';
import { runPendingJobs } from '../maintenance/jobs.js';
import { ConversionSchema } from '../model/conversion-schema.js';
import { errorMessage, jsonLogger } from '../observability/logger.js';
import { inspectPostback } from '../postback/inspect.js';
import { JsonSyntaxError, parseStrictJson, toPlain } from '../postback/json.js';
import { KeyConfigError } from '../postback/keys.js';
import { readPostback } from '../postback/read.js';
import { snakeKeys } from '../postback/types.js';
import { ReportParamError } from '../report/query.js';
import { MAX_REPORTED_BYTES, parseUpload, storedFigure } from '../report/reported.js';
import { CommandError, deliveriesCommand, destinationsCommand } from './commands/forwarding.js';
import { importFile } from './commands/import.js';
import { REPORT_OPTIONS, reportCommand } from './commands/report.js';
import { reverify } from './reverify.js';
import { createNodeRuntime, createVerification, type NodeRuntime } from './runtime.js';

const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Each command's synopsis and what it does: the overall usage, and `skanpost COMMAND --help`. */
const HELP: Record<string, string> = {
  verify: `verify FILE|-            verify one postback body (a file, or - for stdin); prints JSON.
                           exit 0 verified, 1 any other verdict, 2 a body the server would refuse (400, 413)`,
  reverify: `reverify                 re-run verification on stored invalid and unverifiable rows`,
  report: `report [options]         a report: --kind campaigns|events|mmp (default campaigns)
                           --from --to (YYYY-MM-DD) --tz --date-basis arrival|install (mmp: event|click|arrival)
                           --group-by date,campaign,... --FILTER value[,value] (e.g. --app-id 123)
                           --format table|csv|json`,
  schema: `schema validate FILE     check a conversion-value schema file`,
  keys: `keys create --role analyst|admin [--name N] [--apps 1,2] [--networks a,b]
                           create an API key; the secret is printed once (omit --apps/--networks for no scope)`,
  rebuild: `rebuild                  rebuild every aggregate from the stored postbacks (chunked, resumable)`,
  import: `import FILE.ndjson       ingest postbacks: each line a bare postback or {"received_at","raw"|"body"}`,
  prune: `prune                    remove rows past their retention now (the server does it hourly)`,
  backup: `backup FILE              copy the database to FILE while the server runs (SQLite online backup)`,
  destinations: `destinations list | add FILE.json [--backfill-since T] | pause ID | resume ID | stats ID
                           forwarding destinations (FILE: the body of POST /v1/destinations)`,
  reported: `reported import FILE        upload figures reported elsewhere (CSV with a header row, or a JSON array
                           in FILE.json); all or nothing: exit 1 with every problem by line if a row is bad`,
  deliveries: `deliveries dead [--destination ID] | replay --ids 1,2 | replay --destination ID [--state dead|pending]
                           dead letters, and sending them again`,
};

const USAGE = `usage: skanpost <command> [options]   (skanpost <command> --help for one)

commands:
${Object.values(HELP)
  .map((h) => `  ${h}`)
  .join('\n')}

environment: SKANPOST_DB, SKANPOST_EXTRA_KEYS, SKANPOST_INSTALL_MODEL, ... (see docs/operations.md)`;

class UsageError extends Error {}

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdin: () => Uint8Array;
  env: Record<string, string | undefined>;
  /** Whether stderr is a terminal, for the import progress bar. */
  isTty?: boolean;
}

// JSON.stringify leaves U+2063 as an invisible raw character; spell it out so it can be seen.
const showSeparators = (json: string) => json.replace(/\u2063/g, '\\u2063');

function readInput(file: string, io: Io): Uint8Array {
  try {
    return file === '-' ? io.stdin() : readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

type OptionSpec = Record<string, { type: 'string' }>;

function options(args: string[], spec: OptionSpec): { positionals: string[]; values: Record<string, string | undefined> } {
  const { positionals, values } = parseArgs({ args, options: spec, allowPositionals: true, strict: true });
  return { positionals, values: values as Record<string, string | undefined> };
}

async function verifyCommand(args: string[], io: Io): Promise<number> {
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
    fields: snakeKeys(inspection.fields),
  };
  io.stdout(showSeparators(JSON.stringify(output, null, 2)));
  return inspection.signature === 'verified' ? EXIT.ok : EXIT.failure;
}

function schemaCommand(args: string[], io: Io): number {
  const [sub, file, ...rest] = args;
  if (sub !== 'validate' || file === undefined || rest.length > 0) throw new UsageError('usage: skanpost schema validate FILE');
  const text = new TextDecoder().decode(readInput(file, io));
  let value: unknown;
  try {
    value = toPlain(parseStrictJson(text));
  } catch (error) {
    io.stdout(JSON.stringify({ valid: false, problems: [{ field: '(file)', reason: error instanceof JsonSyntaxError ? error.message : 'not JSON' }] }, null, 2));
    return EXIT.failure;
  }
  const parsed = ConversionSchema.safeParse(value);
  if (parsed.success) {
    const fine = parsed.data.fine.reduce((n, r) => n + r.to - r.from + 1, 0);
    io.stdout(JSON.stringify({ valid: true, currency: parsed.data.currency, effective_from: parsed.data.effective_from, fine_values_mapped: fine }, null, 2));
    return EXIT.ok;
  }
  io.stdout(JSON.stringify({ valid: false, problems: parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(root)', reason: i.message })) }, null, 2));
  return EXIT.failure;
}

const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

async function withRuntime(io: Io, work: (runtime: NodeRuntime) => Promise<number>): Promise<number> {
  const runtime = await createNodeRuntime(readConfig(io.env), jsonLogger(io.stderr));
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

async function keysCommand(args: string[], io: Io): Promise<number> {
  const { positionals, values } = options(args, { role: { type: 'string' }, name: { type: 'string' }, apps: { type: 'string' }, networks: { type: 'string' } });
  if (positionals[0] !== 'create' || positionals.length > 1) throw new UsageError('usage: skanpost keys create --role analyst|admin [--name N] [--apps 1,2] [--networks a,b]');
  if (values.role !== 'analyst' && values.role !== 'admin') throw new UsageError('--role must be analyst or admin');
  const apps = list(values.apps);
  const networks = list(values.networks);
  // `--apps "$APPS"` with an empty variable must not make a key that reads every app.
  if (apps?.length === 0) throw new UsageError('--apps is empty: give app ids, or leave the option out for a key that reads every app');
  if (networks?.length === 0) throw new UsageError('--networks is empty: give ad network ids, or leave the option out for a key that reads every network');
  if (apps?.some((a) => !/^\d{1,15}$/.test(a))) throw new UsageError('--apps takes comma-separated app ids');
  return withRuntime(io, async (runtime) => {
    const { key, secret } = await runtime.writer.run((tx) =>
      createApiKey(
        tx.db,
        { name: values.name ?? `${values.role} key`, role: values.role as 'analyst' | 'admin', app_ids: apps?.map(Number), ad_network_ids: networks },
        new Date(),
      ),
    );
    io.stdout(JSON.stringify({ ...publicKey(key), secret }, null, 2));
    io.stderr('skanpost: store the secret now; it is not shown again');
    return EXIT.ok;
  });
}

async function rebuildCommand(args: string[], io: Io): Promise<number> {
  const { positionals } = options(args, {});
  if (positionals.length > 0) throw new UsageError('rebuild takes no arguments');
  return withRuntime(io, async (runtime) => {
    const started = Date.now();
    // A rebuild already under way (stopped midway) is resumed rather than restarted.
    if (!(await rebuildRunning(runtime.db))) await runtime.writer.run((tx) => startRebuild(tx.db, new Date()));
    const chunks = await runPendingJobs(runtime.db, runtime.writer, runtime.deps.installModel, () => new Date());
    io.stdout(JSON.stringify({ rebuilt: true, chunks, seconds: (Date.now() - started) / 1000 }));
    return EXIT.ok;
  });
}

async function importCommand(args: string[], io: Io): Promise<number> {
  const { positionals } = options(args, {});
  const [file, ...rest] = positionals;
  if (file === undefined || rest.length > 0) throw new UsageError('import takes exactly one FILE.ndjson');
  readInput(file, io); // a clear usage error for a missing file, before opening the database
  return withRuntime(io, async (runtime) => {
    let last = -1;
    const progress = (done: number, total: number) => {
      const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
      if (!io.isTty || pct === last) return;
      last = pct;
      const bar = '#'.repeat(Math.floor(pct / 4)).padEnd(25, '-');
      process.stderr.write(`\r[${bar}] ${pct}%${pct === 100 ? '\n' : ''}`);
    };
    const summary = await importFile(file, runtime.deps, progress);
    await runPendingJobs(runtime.db, runtime.writer, runtime.deps.installModel, () => new Date());
    io.stdout(JSON.stringify(summary, null, 2));
    return summary.rejected > 0 ? EXIT.failure : EXIT.ok;
  });
}

async function reportedCommand(args: string[], io: Io): Promise<number> {
  const { positionals } = options(args, {});
  const [sub, file, ...rest] = positionals;
  if (sub !== 'import' || file === undefined || rest.length > 0) throw new UsageError('usage: skanpost reported import FILE.csv');
  const bytes = readInput(file, io);
  if (bytes.byteLength > MAX_REPORTED_BYTES) throw new UsageError(`${file} is over ${MAX_REPORTED_BYTES} bytes: split it`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${file} is not UTF-8 text`);
  }
  const parsed = parseUpload(text, !/\.json$/i.test(file));
  if (!parsed.ok) {
    io.stdout(JSON.stringify({ error: `${parsed.detail}; nothing was stored`, problems: parsed.problems, problems_total: parsed.total }, null, 2));
    return EXIT.failure;
  }
  return withRuntime(io, async (runtime) => {
    const rows = parsed.rows.map(storedFigure);
    await runtime.writer.run((tx) => tx.batch(reportedStatements(tx.db, rows, new Date())));
    io.stdout(JSON.stringify({ received: rows.length, stored: rows.length }));
    return EXIT.ok;
  });
}

async function reverifyCommand(args: string[], io: Io): Promise<number> {
  if (args.length > 0) throw new UsageError('reverify takes no arguments');
  return withRuntime(io, async (runtime) => {
    if (await rebuildRunning(runtime.db)) throw new UsageError('a rebuild is under way; run `skanpost rebuild` to finish it first');
    const summary = await reverify(runtime.db, runtime.writer, runtime.deps.verification, runtime.deps.installModel);
    io.stdout(JSON.stringify(summary));
    return EXIT.ok;
  });
}

export async function runCli(argv: string[], io: Io): Promise<number> {
  try {
    const [command, ...args] = argv;
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      const about = command === 'help' && args[0] !== undefined ? HELP[args[0]] : undefined;
      io.stdout(about ? `usage: skanpost ${about}` : USAGE);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    if (HELP[command] && args.some((a) => a === '--help' || a === '-h')) {
      io.stdout(`usage: skanpost ${HELP[command]}`);
      return EXIT.ok;
    }
    switch (command) {
      case 'verify':
        return await verifyCommand(options(args, {}).positionals, io);
      case 'reverify':
        return await reverifyCommand(options(args, {}).positionals, io);
      case 'schema':
        return schemaCommand(options(args, {}).positionals, io);
      case 'keys':
        return await keysCommand(args, io);
      case 'rebuild':
        return await rebuildCommand(args, io);
      case 'reported':
        return await reportedCommand(args, io);
      case 'import':
        return await importCommand(args, io);
      case 'prune': {
        if (options(args, {}).positionals.length > 0) throw new UsageError('prune takes no arguments');
        return await withRuntime(io, async (runtime) => {
          const config = readConfig(io.env);
          const pruned = await pruneExpired(runtime.writer, { unverifiedDays: config.retentionDays, verifiedDays: config.retentionVerifiedDays }, new Date());
          io.stdout(JSON.stringify({ pruned }));
          return EXIT.ok;
        });
      }
      case 'backup': {
        const { positionals } = options(args, {});
        const [file, ...rest] = positionals;
        if (file === undefined || rest.length > 0) throw new UsageError('backup takes exactly one FILE');
        if (existsSync(file)) throw new UsageError(`${file} exists; backup never overwrites a file`);
        if (!existsSync(dirname(resolve(file)))) throw new UsageError(`the folder of ${file} does not exist; backup does not create folders`);
        return await withRuntime(io, async (runtime) => {
          const started = Date.now();
          // The online backup API copies a consistent snapshot page by page; writers keep going.
          await runtime.sqlite.backup(file);
          const { size } = statSync(file);
          io.stdout(JSON.stringify({ backup: file, bytes: size, seconds: (Date.now() - started) / 1000 }));
          return EXIT.ok;
        });
      }
      case 'destinations':
      case 'deliveries': {
        const { positionals, values } = options(args, {
          'backfill-since': { type: 'string' },
          destination: { type: 'string' },
          ids: { type: 'string' },
          state: { type: 'string' },
        });
        return await withRuntime(io, async (runtime) => {
          try {
            const result = command === 'destinations' ? await destinationsCommand(runtime, positionals, values) : await deliveriesCommand(runtime, positionals, values);
            io.stdout(JSON.stringify(result, null, 2));
            return EXIT.ok;
          } catch (error) {
            if (!(error instanceof CommandError)) throw error;
            if (error.exitCode === 2) throw new UsageError(error.message);
            io.stderr(`skanpost: ${error.message}`);
            return EXIT.failure;
          }
        });
      }
      case 'report': {
        const { values, positionals } = options(args, REPORT_OPTIONS);
        if (positionals.length > 0) throw new UsageError(`report takes options only, got ${positionals.join(' ')}`);
        return await withRuntime(io, async (runtime) => {
          io.stdout(await reportCommand(runtime.deps.db, values, new Date(), runtime.deps.installModel));
          return EXIT.ok;
        });
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (
      error instanceof UsageError ||
      error instanceof ConfigError ||
      error instanceof KeyConfigError ||
      error instanceof GuardConfigError ||
      error instanceof ReportParamError ||
      error instanceof RangeError ||
      code?.startsWith('ERR_PARSE_ARGS')
    ) {
      io.stderr(`skanpost: ${(error as Error).message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    io.stderr(`skanpost: ${errorMessage(error)}`);
    return EXIT.failure;
  }
}
