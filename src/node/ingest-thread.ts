// The postback writer on a thread of its own. better-sqlite3 is synchronous: on the main thread
// every statement of every postback's write competes with HTTP parsing and verification for one
// core. Here the same group commit runs beside it; the main thread only sends rows and receives
// receipts. One connection, one writer, same transaction: the Node default's guarantees. The
// background work (forwarding, jobs, retention) runs here too, so every write it makes goes
// through the same connection.
import { isMainThread, parentPort, type Worker, workerData } from 'node:worker_threads';
import type { Synchronous } from '../config.js';
import type { InstallModel } from '../conversion/install-date.js';
import { StorageUnavailableError } from '../db/db.js';
import { type NewClick, storedClicks } from '../db/mmp.js';
import type { RetentionPolicy } from '../db/retention.js';
import type { MmpPartnerRow, NewPostbackRow } from '../db/schema.js';
import { type SaveResult, savePostback } from '../ingest/save.js';
import { writeClicks } from '../mmp/click-log.js';
import { type MmpSaveResult, type ReadMmpPostback, saveMmpPostback } from '../mmp/intake.js';
import type { Logger } from '../observability/logger.js';
import { errorMessage } from '../observability/logger.js';
import { type Background, startBackground } from './background.js';
import { openDatabase } from './database.js';
import { GroupCommitWriter } from './group-commit.js';
import { startThread } from './thread.js';

export interface IngestThreadOptions {
  dbPath: string;
  synchronous: Synchronous;
  installModel: InstallModel;
  retention: RetentionPolicy;
}

/** An MMP postback to check against its click and store, as the intake read it. */
export interface MmpWrite {
  partner: MmpPartnerRow;
  read: ReadMmpPostback;
  receivedAt: Date;
  secrets: readonly string[];
}

type Work = { row: NewPostbackRow } | { clicks: NewClick[] } | { mmp: MmpWrite } | { metrics: true };
type Request = ({ id: number } & Work) | { background: true } | { close: true };
type LogLevel = 'info' | 'warn' | 'error';
// Messages cross in batches: every request the main thread makes in one turn of its event loop goes
// as one message, and every answer a group commit settles comes back as one. A message costs a
// structured clone, a lock and a wake-up on each side: ~30 µs of CPU per postback one by one, ~13 µs
// in eights (BENCHMARKS.md).
type Batch<T> = { batch: T[] };
type Reply =
  | { id: number; result: SaveResult | MmpSaveResult | number | string }
  | { id: number; error: { storage?: string; message: string } }
  | { log: { level: LogLevel; message: string; fields?: Record<string, unknown> } };

/** The main thread's side: `save` resolves once the row's commit is done (durable, in `full`). */
export class IngestThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (value: never) => void; reject: (error: unknown) => void }>();
  private nextId = 0;
  /** Requests of this turn, sent together at its end. */
  private outbox: Request[] = [];
  /** Requests sent to the thread and not answered yet. */
  private unanswered = 0;
  private closing: Promise<void> | undefined;
  private failure: Error | undefined;

  constructor(
    options: IngestThreadOptions,
    onFailure: (error: Error) => void,
    private readonly logger?: Logger,
  ) {
    // The thread holds only the write path's objects: a small heap keeps the process's memory flat.
    const settings = { workerData: options, resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 } };
    this.worker = startThread(import.meta.url, 'ingest-thread.mjs', settings);
    this.worker.on('message', (replies: Batch<Reply>) => {
      for (const reply of replies.batch) this.settle(reply);
      // The thread has just committed: what this side held meanwhile goes now, as one message.
      this.flush();
    });
    const fail = (error: Error) => {
      this.failure ??= error;
      for (const { reject } of this.pending.values()) reject(new StorageUnavailableError('WRITER_THREAD', { cause: error }));
      this.pending.clear();
      if (!this.closing) onFailure(error);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the ingest writer thread exited with code ${code}`)));
  }

  save(row: NewPostbackRow): Promise<SaveResult> {
    return this.call({ row });
  }

  /** Writes clicks and their counts in one unit of the thread's group commit; resolves with how many were new. */
  writeClicks(clicks: NewClick[]): Promise<number> {
    return this.call({ clicks });
  }

  /** Checks an MMP postback against its click and stores it, with its counts and copies, in one unit. */
  saveMmp(mmp: MmpWrite): Promise<MmpSaveResult> {
    return this.call({ mmp });
  }

  /** The thread's group-commit histogram, as exposition text. */
  metrics(): Promise<string> {
    return this.call({ metrics: true });
  }

  /** Starts forwarding, jobs and retention on the thread (the server does; the CLI does not). */
  startBackground(): void {
    if (!this.failure && !this.closing) this.send({ background: true });
  }

  /** Answers everything queued, settles the sends in flight, closes the connection, ends the thread. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.failure) return resolve();
      this.worker.once('exit', () => resolve());
      this.send({ close: true });
    });
    return this.closing;
  }

  private call<T>(request: Work): Promise<T> {
    if (this.failure || this.closing) return Promise.reject(new StorageUnavailableError(this.failure ? 'WRITER_THREAD' : 'CLOSED'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: never) => void, reject });
      this.send({ id, ...request } as Request);
    });
  }

  /**
   * Queues a request. With nothing awaiting an answer, the turn's requests leave together once this
   * turn's I/O is handled; otherwise they wait for the thread's next answers (its next commit),
   * which it could not have started sooner, and leave with everything else queued by then.
   */
  private send(request: Request): void {
    this.outbox.push(request);
    if (this.outbox.length === 1) setImmediate(() => this.unanswered === 0 && this.flush());
  }

  private flush(): void {
    const batch = this.outbox;
    if (batch.length === 0) return;
    this.outbox = [];
    if (this.failure) return;
    for (const request of batch) if ('id' in request) this.unanswered++;
    this.worker.postMessage({ batch } satisfies Batch<Request>);
  }

  private settle(reply: Reply): void {
    if ('log' in reply) {
      this.logger?.[reply.log.level](reply.log.message, reply.log.fields);
      return;
    }
    this.unanswered--;
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if ('result' in reply) waiter.resolve(reply.result as never);
    else waiter.reject(reply.error.storage ? new StorageUnavailableError(reply.error.storage) : new Error(reply.error.message));
  }
}

/** The thread's side: the same GroupCommitWriter and savePostback as in process. */
function serve(options: IngestThreadOptions): void {
  const port = parentPort!;
  const database = openDatabase(options.dbPath, { synchronous: options.synchronous });
  const writer = new GroupCommitWriter(database.sqlite, database.db);
  let replies: Reply[] = [];
  const flush = () => {
    const batch = replies;
    replies = [];
    if (batch.length > 0) port.postMessage({ batch } satisfies Batch<Reply>);
  };
  const reply = (message: Reply) => {
    replies.push(message);
    if (replies.length === 1) setImmediate(flush);
  };
  const log = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => reply({ log: { level, message, fields } });
  let background: Background | undefined;
  port.on('message', (requests: Batch<Request>) => {
    for (const request of requests.batch) handle(request);
  });
  function handle(request: Request): void {
    if ('background' in request) {
      const logger = { info: log('info'), warn: log('warn'), error: log('error') };
      background ??= startBackground({ db: database.db, writer, now: () => new Date(), logger, installModel: options.installModel, retention: options.retention });
      return;
    }
    if ('close' in request) {
      void Promise.resolve(background?.stop())
        .then(() => writer.close())
        // The last answers, settled by the writer's last commit, leave before the port closes.
        .then(() => new Promise((settled) => setImmediate(settled)))
        .then(() => {
          flush();
          database.sqlite.close();
          port.close();
        });
      return;
    }
    if ('metrics' in request) {
      reply({ id: request.id, result: writer.metricsText() });
      return;
    }
    const work: Promise<SaveResult | MmpSaveResult | number> =
      'clicks' in request
        ? writeClicks(writer, request.clicks, new Date()).then(storedClicks)
        : 'mmp' in request
          ? writer.run((tx) => saveMmpPostback(tx, request.mmp.partner, request.mmp.read, request.mmp.receivedAt, request.mmp.secrets))
          : writer.run((tx) => savePostback(tx, request.row, options.installModel));
    work.then(
      (result) => reply({ id: request.id, result }),
      (error: unknown) =>
        reply({
          id: request.id,
          error: error instanceof StorageUnavailableError ? { storage: error.code, message: error.message } : { message: errorMessage(error) },
        }),
    );
  }
}

if (!isMainThread && (workerData as IngestThreadOptions | undefined)?.dbPath) serve(workerData as IngestThreadOptions);
