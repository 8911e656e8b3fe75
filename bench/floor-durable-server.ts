// The group-commit floor skanpost is measured against: the least a server with skanpost's
// guarantees does, written for speed and nothing else. Hono on @hono/node-server reads the body,
// parses it and verifies the P-256 signature of a SKAN 4.0 postback as the baseline does, hashes
// the body, and hands the row with its rollup key to a worker thread; the thread writes the row
// into skanpost's own `postbacks` table (the same migrations, so the same indexes and unique keys)
// and upserts its `rollups` row, both with bare better-sqlite3 statements, in one synchronous=FULL
// transaction for every row that reached it meanwhile (group commit); the 200 goes out after that
// commit. No settings, no decoding, no strict JSON reader, no metrics or request log, no outbox, no
// duplicate-or-conflict lookup: what is left is the HTTP, the verification, the hand-over and the
// SQL, the parts no implementation of these guarantees avoids. Started by bench/ingest.ts with
// BENCH_KEY (base64 SPKI), SKANPOST_DB and PORT.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { isMainThread, parentPort, receiveMessageOnPort, Worker, workerData } from 'node:worker_threads';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { openDatabase } from '../src/node/database.js';
import { SIGNED } from '../test/support/skan-recipes.js';
import { SIGNED_POSTBACK_COLUMNS } from './raw-columns.js';

/** The postback row's values, in the order of SIGNED_POSTBACK_COLUMNS, and its rollup row's, in ROLLUP_COLUMNS'. */
type Unit = [row: unknown[], rollup: unknown[]];

/** The rollup key in skanpost's order (src/db/schema.ts), then the counts a verified install adds to. */
const ROLLUP_KEY = [
  'arrival_bucket',
  'install_bucket',
  'protocol',
  'environment',
  'signature',
  'ad_network_id',
  'app_id',
  'campaign',
  'campaign_name',
  'network_campaign_id',
  'source_identifier',
  'window',
  'fidelity_type',
  'redownload',
  'did_win',
  'version',
  'conversion_type',
  'ad_interaction_type',
  'country_code',
  'conversion_value',
  'coarse_conversion_value',
  'source_app_id',
  'source_domain',
  'currency',
];
const ROLLUP_MEASURES = ['postbacks', 'verified', 'installs', 'window_0'];
const ROLLUP_COLUMNS = [...ROLLUP_KEY, ...ROLLUP_MEASURES];
const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

function writer(path: string): void {
  const { sqlite } = openDatabase(path, { synchronous: 'full' });
  const insert = sqlite.prepare(`insert into postbacks (${SIGNED_POSTBACK_COLUMNS.join(', ')}) values (${placeholders(SIGNED_POSTBACK_COLUMNS.length)}) on conflict do nothing`);
  const upsert = sqlite.prepare(
    `insert into rollups (${ROLLUP_COLUMNS.join(', ')}) values (${placeholders(ROLLUP_COLUMNS.length)})
     on conflict do update set ${ROLLUP_MEASURES.map((m) => `${m} = ${m} + excluded.${m}`).join(', ')}`,
  );
  const [begin, commit] = [sqlite.prepare('BEGIN IMMEDIATE'), sqlite.prepare('COMMIT')];
  const port = parentPort!;
  port.on('message', (first: Unit[]) => {
    // Every batch that arrived while the last commit ran goes into this one.
    const units = [...first];
    for (let more = receiveMessageOnPort(port); more; more = receiveMessageOnPort(port)) units.push(...(more.message as Unit[]));
    const stored: boolean[] = [];
    begin.run();
    for (const [row, rollup] of units) {
      // Stored, or skipped for a unique key (as skanpost's writer tells it: no RETURNING).
      const created = insert.run(row).changes > 0;
      if (created) upsert.run(rollup);
      stored.push(created);
    }
    commit.run();
    port.postMessage(stored);
  });
}

function server(): void {
  const key = createPublicKey({ key: Buffer.from(process.env.BENCH_KEY!, 'base64'), format: 'der', type: 'spki' });
  const FIELDS = SIGNED['4.0']!;
  // A worker does not inherit tsx's loader on Node 20: it registers it, then loads this file.
  const entry = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const thread = new Worker(entry, { eval: true, workerData: { floorDb: process.env.SKANPOST_DB! } });
  // Rows wait here for the turn of the event loop, then go over in one message; answers come
  // back in order, one per row.
  let pending: Unit[] = [];
  const waiting: Array<(stored: boolean) => void> = [];
  thread.on('message', (stored: boolean[]) => {
    for (const s of stored) waiting.shift()!(s);
  });
  thread.on('error', (error) => {
    throw error;
  });
  const save = (unit: Unit) =>
    new Promise<boolean>((resolve) => {
      if (pending.length === 0) {
        setImmediate(() => {
          thread.postMessage(pending);
          pending = [];
        });
      }
      pending.push(unit);
      waiting.push(resolve);
    });

  const BUCKET = 15 * 60_000;
  const app = new Hono();
  app.post('/.well-known/skadnetwork/report-attribution/', async (c) => {
    const text = await c.req.text();
    const body = JSON.parse(text) as Record<string, unknown>;
    // The fields the row and its rollup key cannot do without; the rest may be absent.
    if (typeof body['app-id'] !== 'number' || typeof body['ad-network-id'] !== 'string' || typeof body['transaction-id'] !== 'string' || typeof body.version !== 'string') {
      return c.json({ error: 'not a postback' }, 400);
    }
    const message = FIELDS.filter((f) => f in body)
      .map((f) => String(body[f]))
      .join('\u2063');
    const ok = verify('sha256', Buffer.from(message), key, Buffer.from(String(body['attribution-signature']), 'base64'));
    const signature = ok ? 'verified' : 'invalid';
    const now = Date.now();
    const bucket = now - (now % BUCKET);
    const network = String(body['ad-network-id']);
    const transaction = String(body['transaction-id']);
    const sequence = Number(body['postback-sequence-index'] ?? 0);
    const appId = Number(body['app-id']);
    const source = String(body['source-identifier'] ?? '');
    const version = String(body.version);
    const [fidelity, redownload, didWin, value, sourceApp] = [
      Number(body['fidelity-type'] ?? -1),
      body.redownload ? 1 : 0,
      body['did-win'] ? 1 : 0,
      Number(body['conversion-value'] ?? -1),
      Number(body['source-app-id'] ?? -1),
    ];
    const row = [
      now,
      'skan',
      'production',
      version,
      signature,
      '[]',
      'stored',
      ok ? `skan|production|${network}|${transaction.toLowerCase()}|${sequence}` : null,
      createHash('sha256').update(text).digest('hex'),
      text,
      network,
      transaction,
      sequence,
      source,
      appId,
      sourceApp,
      redownload,
      fidelity,
      didWin,
      value,
    ];
    const rollup = [bucket, bucket, 'skan', 'production', signature, network, appId, '', '', '', source, sequence, fidelity, redownload, didWin, version];
    rollup.push('', '', '', value, '', sourceApp, '', '', 1, ok ? 1 : 0, 1, sequence === 0 ? 1 : 0);
    const stored = await save([row, rollup]);
    return c.json({ signature, outcome: stored ? 'stored' : 'duplicate' });
  });
  serve({ fetch: app.fetch, port: Number(process.env.PORT) }, (info) => process.stderr.write(`"message":"skanpost listening","port":${info.port}\n`));
}

if (isMainThread) server();
else writer((workerData as { floorDb: string }).floorDb);
