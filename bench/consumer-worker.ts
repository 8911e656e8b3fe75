// The Worker `npm run bench:consumer` runs in Miniflare (local workerd, local D1): the queue
// consumer's write path as deployed, driven over HTTP so the bench can time it from outside.
// POST /consume?mode=batch: the messages as the consumer writes a batch (`consumeBatch`: one
// db.batch() per shard for the Apple postbacks); mode=single: each postback in its own db.batch(),
// as the consumer wrote them before batching. Answers how many went unwritten.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { consumeBatch } from '../src/ingest/consume.js';
import { fromMessage } from '../src/ingest/queue.js';
import { savePostback } from '../src/ingest/save.js';
import { createWorkerRuntime, type WorkerEnv } from '../src/worker/runtime.js';

export default {
  async fetch(request: Request, env: WorkerEnv): Promise<Response> {
    const mode = new URL(request.url).searchParams.get('mode');
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
