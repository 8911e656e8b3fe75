// The Worker `npm run bench:consumer` runs in Miniflare (local workerd, local D1): the queue
// consumer's write path as deployed, driven over HTTP so the bench can time it from outside.
// POST /consume?mode=batch: the messages as the consumer writes a batch (`consumeBatch`: one
// db.batch() per shard for the Apple postbacks); mode=single: each postback in its own db.batch(),
// as the consumer wrote them before batching. Answers how many went unwritten. POST /move moves an
// app between shards as the cron does.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { consumeBatch } from '../src/ingest/consume.js';
import { fromMessage } from '../src/ingest/queue.js';
import { savePostback } from '../src/ingest/save.js';
import { advanceMoves, getMove, startMove } from '../src/maintenance/moves.js';
import { CRON_BUDGET } from '../src/worker/index.js';
import { createWorkerRuntime, forgetShardPlacements, type WorkerEnv } from '../src/worker/runtime.js';

/**
 * POST /move?app=A&to=K: moves app A to shard K as the cron would, a run of the cron's budget at a
 * time with the clock a minute further each run (so the hold's and the deletes' waits pass). Answers
 * how many runs and slices it took, and the milliseconds spent in them.
 */
async function move(env: WorkerEnv, appId: number, to: number): Promise<Response> {
  let clock = Date.now();
  const runtime = await createWorkerRuntime(env, () => new Date(clock));
  const deps = {
    settingsDb: runtime.db,
    shards: runtime.shards,
    now: () => new Date(clock),
    writeHeld: async (bodies: readonly unknown[]) => (await consumeBatch(bodies, runtime.deps)).settled,
  };
  const started = await startMove(runtime.db, runtime.shards, appId, to, new Date(clock));
  let runs = 0;
  let slices = 0;
  let ms = 0;
  for (; runs < 100_000; runs++) {
    const state = (await getMove(runtime.db, started.id))!.state;
    if (state === 'done' || state === 'failed') return Response.json({ state, runs, slices, ms });
    const t = performance.now();
    slices += await advanceMoves(deps, { slices: CRON_BUDGET.moveSlices, until: Date.now() + CRON_BUDGET.wallMs });
    ms += performance.now() - t;
    clock += 60_000;
  }
  return Response.json({ state: 'unfinished', runs, slices, ms });
}

export default {
  async fetch(request: Request, env: WorkerEnv): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/move') return move(env, Number(url.searchParams.get('app')), Number(url.searchParams.get('to')));
    // The bench empties the databases between rounds: what this isolate remembers of the map goes too.
    if (url.pathname === '/forget') {
      forgetShardPlacements();
      return new Response(null, { status: 204 });
    }
    const mode = url.searchParams.get('mode');
    const bodies = (await request.json()) as unknown[];
    const runtime = await createWorkerRuntime(env);
    if (mode === 'batch') {
      const { settled } = await consumeBatch(bodies, runtime.deps);
      return Response.json({ unwritten: settled.filter((e) => e !== undefined).length });
    }
    for (const body of bodies) {
      const queued = fromMessage(body);
      if (queued.kind !== 'postback') throw new Error('the bench sends Apple postbacks only');
      const shard = await runtime.shards.place(queued.row.appId);
      await shard.writer.run((tx) => savePostback(tx, queued.row, runtime.config.installModel));
    }
    return Response.json({ unwritten: 0 });
  },
};
