// Starting a worker thread from a module that is either bundled (npm start: each thread is its
// own file beside main.mjs) or run from source (tests, tsx: Node 20 does not carry `--import tsx`
// into workers, so the thread registers tsx itself before loading the module).
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `callerUrl`: the calling module's `import.meta.url`; `bundled`: its file name in dist/node. */
export function startThread(callerUrl: string, bundled: string, options: WorkerOptions): Worker {
  return callerUrl.endsWith('.mjs')
    ? new Worker(new URL(`./${bundled}`, callerUrl), options)
    : new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(callerUrl)}); })`, { ...options, eval: true });
}
