// The naive server skanpost is measured against: Hono on @hono/node-server that parses the JSON,
// verifies the P-256 signature of a SKAN 4.0 postback synchronously with node:crypto, stores
// nothing and answers 200; and, for clicks, a bare redirect that looks nothing up and keeps
// nothing. Started by bench/ingest.ts with BENCH_KEY (base64 SPKI) and PORT.
import { createPublicKey, verify } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { SIGNED } from '../test/support/skan-recipes.js';

const key = createPublicKey({ key: Buffer.from(process.env.BENCH_KEY!, 'base64'), format: 'der', type: 'spki' });
const FIELDS = SIGNED['4.0']!;

const app = new Hono();
app.post('/.well-known/skadnetwork/report-attribution/', async (c) => {
  const body = (await c.req.json()) as Record<string, unknown>;
  const message = FIELDS.filter((f) => f in body)
    .map((f) => String(body[f]))
    .join('\u2063');
  const ok = verify('sha256', Buffer.from(message), key, Buffer.from(String(body['attribution-signature']), 'base64'));
  return c.json({ signature: ok ? 'verified' : 'invalid' });
});
app.get('/c/:id', (c) => c.redirect(`https://mmp.example/click?link=${c.req.param('id')}`, 302));
serve({ fetch: app.fetch, port: Number(process.env.PORT) }, (info) => process.stderr.write(`"message":"skanpost listening","port":${info.port}\n`));
