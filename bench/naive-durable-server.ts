// The naive durable peer skanpost is measured against: what a careful first version does. Hono on
// @hono/node-server, the JSON parsed and the P-256 signature of a SKAN 4.0 postback verified with
// node:crypto, then the postback kept in SQLite in one `synchronous=FULL` transaction per request
// (WAL, as skanpost runs), deduped by its transaction id, and only then a 200. No aggregates, no
// outbox, no group commit. Started by bench/ingest.ts with BENCH_KEY (base64 SPKI), SKANPOST_DB
// and PORT.
import { createPublicKey, verify } from 'node:crypto';
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import { Hono } from 'hono';
import { SIGNED } from '../test/support/skan-recipes.js';

const key = createPublicKey({ key: Buffer.from(process.env.BENCH_KEY!, 'base64'), format: 'der', type: 'spki' });
const FIELDS = SIGNED['4.0']!;

const db = new Database(process.env.SKANPOST_DB!);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(`create table if not exists postbacks (
  id integer primary key, received_at integer not null, transaction_id text not null unique, ad_network_id text not null,
  app_id integer, source_identifier text, conversion_value integer, verified integer not null, body text not null)`);
const insert = db.prepare(
  'insert or ignore into postbacks (received_at, transaction_id, ad_network_id, app_id, source_identifier, conversion_value, verified, body) values (?, ?, ?, ?, ?, ?, ?, ?)',
);
const keep = db.transaction((row: unknown[]) => insert.run(...row));

const app = new Hono();
app.post('/.well-known/skadnetwork/report-attribution/', async (c) => {
  const text = await c.req.text();
  const body = JSON.parse(text) as Record<string, unknown>;
  const message = FIELDS.filter((f) => f in body)
    .map((f) => String(body[f]))
    .join('\u2063');
  const ok = verify('sha256', Buffer.from(message), key, Buffer.from(String(body['attribution-signature']), 'base64'));
  const stored = keep([
    Date.now(),
    String(body['transaction-id']),
    String(body['ad-network-id']),
    body['app-id'] ?? null,
    body['source-identifier'] ?? null,
    body['conversion-value'] ?? null,
    ok ? 1 : 0,
    text,
  ]);
  return c.json({ signature: ok ? 'verified' : 'invalid', outcome: stored.changes ? 'stored' : 'duplicate' });
});
serve({ fetch: app.fetch, port: Number(process.env.PORT) }, (info) => process.stderr.write(`"message":"skanpost listening","port":${info.port}\n`));
