// Queue-buffered ingest inside workerd (SKANPOST_INGEST_MODE=queue): the edge answers `queued` once
// the queue has the postback, the consumer writes it, and a message delivered again or out of order
// changes nothing.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { beforeAll, beforeEach, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { preparePostback } from '../../src/ingest/ingest.js';
import { type QueuedPostback, toMessage } from '../../src/ingest/queue.js';
import worker from '../../src/worker/index.js';
import { createWorkerRuntime, type WorkerEnv, type WorkerRuntime } from '../../src/worker/runtime.js';
import { generateWebKey, skan4Postback, type WebKey } from '../support/web-signing.js';
import { resetTables } from './reset.js';

const SKAN = 'https://skanpost.example/.well-known/skadnetwork/report-attribution/';
let key: WebKey;
let runtime: WorkerRuntime;
let queueEnv: WorkerEnv;

beforeAll(async () => {
  key = await generateWebKey();
});

beforeEach(async () => {
  queueEnv = { ...env, SKANPOST_EXTRA_KEYS: key.spkiBase64, SKANPOST_INGEST_MODE: 'queue' } as WorkerEnv;
  runtime = await createWorkerRuntime(queueEnv);
  await resetTables(runtime.db);
});

const postback = (overrides: Record<string, unknown> = {}) => skan4Postback(key, overrides);

const count = async (table: string) => (await runtime.db.values<[number]>(sql.raw(`select count(*) from ${table}`)))[0]![0];
const installs = async () => (await runtime.db.values<[number]>(sql`select total(installs) from rollups`))[0]![0];

it('answers queued once the queue has the postback, and the consumer writes it', async () => {
  const app = createApp(runtime.deps);
  const bodies = await Promise.all([1, 2, 3].map(() => postback()));
  for (const body of bodies) {
    const r = await app.request(SKAN, { method: 'POST', body: JSON.stringify(body) });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ id: null, outcome: 'queued', signature: 'verified', reasons: [] });
  }
  // A body that cannot be kept is refused at the edge, as always: nothing is queued.
  expect((await app.request(SKAN, { method: 'POST', body: '{"not": "a postback"}' })).status).toBe(400);
  // The consumer runs on its own, a moment later (bounded wait).
  for (let i = 0; i < 100 && (await count('postbacks')) < 3; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await count('postbacks')).toBe(3);
  expect(await installs()).toBe(3);
});

it('counts each postback once, whatever is delivered again or out of order', async () => {
  const bodies = await Promise.all([1, 2, 3, 4].map(() => postback()));
  // A copy with another conversion value: a conflict of the first, counted as such once.
  bodies.push({ ...bodies[0]!, 'conversion-value': 9 });
  const messages: QueuedPostback[] = [];
  for (const [i, body] of bodies.entries()) {
    const prepared = await preparePostback(new TextEncoder().encode(JSON.stringify(body)), runtime.deps.verification, new Date(Date.UTC(2026, 10, 20, 10, i)));
    if (!prepared.ok) throw new Error('not a postback');
    messages.push(toMessage(prepared.row));
  }
  const deliver = async (bodiesToSend: QueuedPostback[]) => {
    const batch = createMessageBatch<QueuedPostback>(
      'skanpost-ingest-0',
      bodiesToSend.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, queueEnv);
    return getQueueResult(batch, ctx);
  };
  const first = await deliver(messages);
  expect(first.explicitAcks.sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  expect(first.retryMessages).toEqual([]);
  const before = {
    postbacks: await count('postbacks'),
    installs: await installs(),
    conflicts: (await runtime.db.values<[number]>(sql`select total(conflicts) from rollups`))[0]![0],
  };
  expect(before).toEqual({ postbacks: 5, installs: 4, conflicts: 1 });
  // Everything again, reversed, then a random half: nothing moves.
  await deliver([...messages].reverse());
  await deliver(messages.filter((_, i) => i % 2 === 1));
  expect({
    postbacks: await count('postbacks'),
    installs: await installs(),
    conflicts: (await runtime.db.values<[number]>(sql`select total(conflicts) from rollups`))[0]![0],
  }).toEqual(before);
});

it('retries a message it cannot read rather than dropping it', async () => {
  const batch = createMessageBatch('skanpost-ingest-1', [{ id: 'bad', timestamp: new Date(), attempts: 1, body: { v: 2 } }]);
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, queueEnv);
  const result = await getQueueResult(batch, ctx);
  expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(['bad']);
  expect(result.explicitAcks).toEqual([]);
});

it('answers 503 with Retry-After when the queue does not take the postback, so the device retries', async () => {
  // A producer that refuses, as Cloudflare's does when a queue is over its limits.
  const refusing = { send: () => Promise.reject(new Error('Queue send failed: rate limited')), sendBatch: () => Promise.reject(new Error('no')) };
  const failing = await createWorkerRuntime({ ...queueEnv, INGEST_QUEUE_0: refusing as unknown as Queue<QueuedPostback>, INGEST_QUEUE_1: undefined });
  const r = await createApp(failing.deps).request(SKAN, { method: 'POST', body: JSON.stringify(await postback()) });
  expect(r.status).toBe(503);
  expect(r.headers.get('retry-after')).not.toBeNull();
  expect(await r.json()).toMatchObject({ reason: 'storage_unavailable' });
  expect(await count('postbacks')).toBe(0);
});

it('refuses queue mode without a producer binding, naming it', async () => {
  await expect(createWorkerRuntime({ ...queueEnv, INGEST_QUEUE_0: undefined, INGEST_QUEUE_1: undefined })).rejects.toThrow(/INGEST_QUEUE_0/);
});

it('keeps the dead-letter queue for admins, once each, and replays a dead letter into the ingest queues', async () => {
  const prepared = await preparePostback(new TextEncoder().encode(JSON.stringify(await postback())), runtime.deps.verification, new Date(Date.UTC(2026, 10, 20, 10)));
  if (!prepared.ok) throw new Error('not a postback');
  const dead = () => createMessageBatch<QueuedPostback>('skanpost-ingest-dlq', [{ id: 'dead-1', timestamp: new Date(), attempts: 1, body: toMessage(prepared.row) }]);
  for (let delivery = 0; delivery < 2; delivery++) {
    const batch = dead();
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, queueEnv);
    expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
  }
  const app = createApp(runtime.deps);
  const admin = { authorization: `Bearer ${env.SKANPOST_ADMIN_KEY}`, 'content-type': 'application/json' };
  const listed = (await (await app.request('https://skanpost.example/v1/queue/dead-letters', { headers: admin })).json()) as {
    dead_letters: Array<{ id: number; message_id: string; postback: { ad_network_id: string; signature: string } }>;
  };
  expect(listed.dead_letters).toEqual([
    expect.objectContaining({ message_id: 'dead-1', postback: expect.objectContaining({ ad_network_id: 'net.skadnetwork', signature: 'verified' }) }),
  ]);
  expect(await count('postbacks')).toBe(0);

  const replay = await app.request('https://skanpost.example/v1/queue/dead-letters/replay', {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({ ids: [listed.dead_letters[0]!.id] }),
  });
  expect(await replay.json()).toEqual({ replayed: 1 });
  expect(((await (await app.request('https://skanpost.example/v1/queue/dead-letters', { headers: admin })).json()) as { dead_letters: unknown[] }).dead_letters).toEqual([]);
  // The replayed message goes through the ingest queue to the consumer, which stores it.
  for (let i = 0; i < 100 && (await count('postbacks')) < 1; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await count('postbacks')).toBe(1);

  // Without queue mode there is nowhere to replay to.
  const direct = await createWorkerRuntime({ ...env, SKANPOST_EXTRA_KEYS: key.spkiBase64 } as WorkerEnv);
  const refused = await createApp(direct.deps).request('https://skanpost.example/v1/queue/dead-letters/replay', {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({ ids: [1] }),
  });
  expect(refused.status).toBe(400);
  expect(await refused.json()).toMatchObject({ problems: [expect.objectContaining({ field: 'ids' })] });
});
