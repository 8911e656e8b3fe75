// The `skanpost` command line. Exit codes: 0 success, 1 the work failed, 2 bad usage. Each command's
// code is loaded when it runs (commands/): `verify` never loads the database or the server.
import { errorMessage } from '../observability/logger.js';
import { EXIT, type Io, options, UsageError } from './commands/usage.js';

export type { Io } from './commands/usage.js';

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
    if (command === 'verify') return await (await import('./commands/verify.js')).verifyCommand(options(args, {}).positionals, io);
    if (command === 'schema') return (await import('./commands/schema.js')).schemaCommand(options(args, {}).positionals, io);
    if (!HELP[command]) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    return await (await import('./commands/store.js')).runStoreCommand(command, args, io);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (error instanceof UsageError || error instanceof RangeError || code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`skanpost: ${(error as Error).message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    io.stderr(`skanpost: ${errorMessage(error)}`);
    return EXIT.failure;
  }
}
