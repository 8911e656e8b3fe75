// Reports on reader threads. better-sqlite3 is synchronous: a report over a large range held the
// main thread, and every postback arriving meanwhile, for as long as its query ran. Here each
// thread has its own read-only connection (WAL: it sees committed data, never waits for the
// writer), and a report grouped by date first is split into runs of days, one per thread, so a
// large one uses both cores. Threads start with the first report and end after a quiet minute:
// a server that only ingests keeps its memory.
import { isMainThread, parentPort, type Worker, workerData } from 'node:worker_threads';
import { errorMessage } from '../observability/logger.js';
import type { ReportQuery } from '../report/query.js';
import { type ReportPart, renderReportPart, splitByDays } from '../report/render.js';
import { ReportTooLargeError } from '../report/run.js';
import { renderWhole, type WholeJob } from '../report/whole.js';
import { openReader } from './database.js';
import { startThread } from './thread.js';

interface ThreadOptions {
  reportThread: { dbPath: string };
}
type Work = { nowMs: number } & ({ query: ReportQuery; fillingHorizonMs: number } | { whole: WholeJob });
type Job = { id: number } & Work;
type Reply = { id: number; part: ReportPart } | { id: number; body: string } | { id: number; error: { tooLarge?: true; message: string } };

interface ReaderThread {
  worker: Worker;
  busy: number;
}

export class ReportThreads {
  private readonly threads: ReaderThread[] = [];
  private readonly pending = new Map<number, { resolve: (answer: never) => void; reject: (error: Error) => void; thread: ReaderThread }>();
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly dbPath: string,
    private readonly size = 2,
    private readonly idleMs = 60_000,
  ) {}

  /** Threads running now (0 before the first report and after a quiet spell). */
  get running(): number {
    return this.threads.length;
  }

  /** The report's parts, in order, each computed and serialized on a reader thread. */
  run = (query: ReportQuery, now: Date, fillingHorizonMs: number): Promise<ReportPart[]> => {
    if (this.closed) return Promise.reject(new Error('the report threads are closed'));
    clearTimeout(this.idleTimer);
    return Promise.all(splitByDays(query, this.size).map((slice) => this.send<ReportPart>({ query: slice, nowMs: now.getTime(), fillingHorizonMs })));
  };

  /** A report computed in one piece (discrepancies, copies), serialized on a reader thread. */
  runWhole = (whole: WholeJob, now: Date): Promise<string> => {
    if (this.closed) return Promise.reject(new Error('the report threads are closed'));
    clearTimeout(this.idleTimer);
    return this.send<string>({ whole, nowMs: now.getTime() });
  };

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
  }

  private send<T>(job: Work): Promise<T> {
    const thread = this.leastBusy();
    const id = this.nextId++;
    // Held while it owes an answer (whoever awaits a report keeps the process alive), let go after.
    if (thread.busy++ === 0) thread.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (answer: never) => void, reject, thread });
      thread.worker.postMessage({ id, ...job } satisfies Job);
    });
  }

  private leastBusy(): ReaderThread {
    const idle = this.threads.find((t) => t.busy === 0);
    if (idle) return idle;
    if (this.threads.length < this.size) return this.spawn();
    return this.threads.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  private spawn(): ReaderThread {
    const options = { workerData: { reportThread: { dbPath: this.dbPath } } satisfies ThreadOptions };
    const worker = startThread(import.meta.url, 'report-threads.mjs', options);
    const thread: ReaderThread = { worker, busy: 0 };
    worker.on('message', (reply: Reply) => this.settle(reply));
    const fail = (error: Error) => {
      const at = this.threads.indexOf(thread);
      if (at >= 0) this.threads.splice(at, 1);
      for (const [id, waiter] of this.pending) {
        if (waiter.thread !== thread) continue;
        this.pending.delete(id);
        waiter.reject(error);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`a report thread exited with code ${code}`)));
    this.threads.push(thread);
    return thread;
  }

  private settle(reply: Reply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if (--waiter.thread.busy === 0) waiter.thread.worker.unref();
    if ('part' in reply) waiter.resolve(reply.part as never);
    else if ('body' in reply) waiter.resolve(reply.body as never);
    else waiter.reject(reply.error.tooLarge ? new ReportTooLargeError() : new Error(reply.error.message));
    if (this.pending.size === 0) {
      this.idleTimer = setTimeout(() => void Promise.all(this.threads.splice(0).map((t) => t.worker.terminate())), this.idleMs);
      this.idleTimer.unref();
    }
  }
}

function serve({ dbPath }: ThreadOptions['reportThread']): void {
  const port = parentPort!;
  const reader = openReader(dbPath);
  port.on('message', (job: Job) => {
    const now = new Date(job.nowMs);
    const answer: Promise<Reply> =
      'whole' in job
        ? renderWhole([reader.db], job.whole, now).then((body) => ({ id: job.id, body }))
        : renderReportPart([reader.db], job.query, now, job.fillingHorizonMs).then((part) => ({ id: job.id, part }));
    answer.then(
      (reply) => port.postMessage(reply),
      (error: unknown) =>
        port.postMessage({
          id: job.id,
          error: error instanceof ReportTooLargeError ? { tooLarge: true, message: error.message } : { message: errorMessage(error) },
        } satisfies Reply),
    );
  });
}

if (!isMainThread && (workerData as Partial<ThreadOptions> | undefined)?.reportThread) serve((workerData as ThreadOptions).reportThread);
