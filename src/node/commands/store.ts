// The commands that open the database: keys, imports, rebuilds, reports, forwarding, backups.
// Loaded only when one of them runs; their configuration errors are usage errors (exit 2).
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, readConfig } from '../../config.js';
import { createApiKey, publicKey } from '../../db/api-keys.js';
import { rebuildRunning, startRebuild } from '../../db/jobs.js';
import { reportedStatements } from '../../db/reported.js';
import { pruneExpired } from '../../db/retention.js';
import { GuardConfigError } from '../../http/client-guard.js';
import { runPendingJobs } from '../../maintenance/jobs.js';
import { jsonLogger } from '../../observability/logger.js';
import { KeyConfigError } from '../../postback/keys.js';
import { ReportParamError } from '../../report/query.js';
import { MAX_REPORTED_BYTES, parseUpload, storedFigure } from '../../report/reported.js';
import { reverify } from '../reverify.js';
import { createNodeRuntime, type NodeRuntime } from '../runtime.js';
import { CommandError, deliveriesCommand, destinationsCommand } from './forwarding.js';
import { importFile } from './import.js';
import { REPORT_OPTIONS, reportCommand } from './report.js';
import { EXIT, type Io, options, readInput, UsageError } from './usage.js';

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

/** Runs `command` (one of the HELP entries that open the database). */
export async function runStoreCommand(command: string, args: string[], io: Io): Promise<number> {
  try {
    switch (command) {
      case 'reverify':
        return await reverifyCommand(options(args, {}).positionals, io);
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
    if (error instanceof ConfigError || error instanceof KeyConfigError || error instanceof GuardConfigError || error instanceof ReportParamError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}
