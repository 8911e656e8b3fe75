// Forwarding copies to partners: formats, signing, retries, dead letters, pause, filters, leases
// and restarts, against real HTTP servers on 127.0.0.1 that the test starts and stops.
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_INSTALL_MODEL } from '../src/conversion/install-date.js';
import { addCampaign, addSchema } from '../src/db/settings.js';
import { type Send, sendDue } from '../src/forward/sender.js';
import { runPendingJobs } from '../src/maintenance/jobs.js';
import { ConversionSchema } from '../src/model/conversion-schema.js';
import { nodeSend } from '../src/node/send.js';
import { createTestApp, type TestApp } from './support/app.js';
import { hang, type Partner, startPartner, status } from './support/partner.js';
import { aakPayload, generateKey, signJws, signSkan, skanBody } from './support/signing.js';

const key = generateKey('P-256');
const forger = generateKey('P-256');
const ADMIN = 'forwarding-admin-key-0123456';
const SECRET = 'partner-shared-secret-123';
const FAST = { first_delay_s: 1, factor: 2, cap_s: 10, max_attempts: 5 };

let dir: string;
let clock: number;
let app: TestApp;
let partner: Partner;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skanpost-forward-'));
  clock = Date.parse('2026-06-10T12:00:00Z');
  app = await createTestApp({ path: join(dir, 'db.sqlite'), extraKeys: `${key.spkiBase64},aak-dev:d/0=${key.spkiBase64}`, adminKey: ADMIN, now: () => new Date(clock) });
  partner = await startPartner();
});
afterEach(async () => {
  await app.close();
  await partner.close();
  rmSync(dir, { recursive: true, force: true });
});

const api = async (method: string, path: string, body?: unknown) => {
  const r = await app.app.request(path, { method, headers: { Authorization: `Bearer ${ADMIN}` }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: r.status, body: r.status === 204 ? null : await r.json() };
};
const addDestination = async (input: Record<string, unknown>) => {
  const r = await api('POST', '/v1/destinations', { name: 'mmp', url: `${partner.url}/pb`, retry: FAST, ...input });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: number };
};
let currentSend: Send | undefined;
const sender = (a: TestApp = app) => ({ db: a.database.db, writer: a.writer, fetch: globalThis.fetch, send: currentSend, now: () => new Date(clock), random: () => 1 });
/** Runs the sender until nothing is due, advancing the clock past each retry; bounded. */
async function drain(a: TestApp = app, rounds = 20) {
  for (let i = 0; i < rounds; i++) {
    await sendDue(sender(a));
    const due = a.database.sqlite.prepare("select min(next_attempt_at) as t from deliveries where state = 'pending'").get() as { t: number | null };
    if (due.t === null) return;
    clock = Math.max(clock, due.t);
  }
}
const states = () =>
  app.database.sqlite.prepare('select state, attempts, last_status, last_error from deliveries order by id').all() as Array<{
    state: string;
    attempts: number;
    last_status: number | null;
    last_error: string | null;
  }>;
const body40 = (o: Record<string, unknown> = {}) => signSkan(skanBody('4.0', { 'app-id': 100, 'conversion-value': 12, ...o }), key, '4.0');

// Every case twice: with fetch (the Worker's client) and with node:http (the Node server's).
for (const [client, send] of [
  ['fetch', undefined],
  ['node:http', nodeSend],
] as const) {
  describe(`sent with ${client}`, () => {
    beforeEach(() => {
      currentSend = send;
    });

    describe('formats', () => {
      it('raw: byte-identical body, JSON content type, idempotency key, user agent, verifiable signature', async () => {
        await addDestination({ secret: SECRET });
        const text = `{ "ip-address": "192.0.2.1", ${JSON.stringify(body40()).slice(1)}`;
        await app.postRaw(text);
        await drain();
        expect(partner.received).toHaveLength(1);
        const [got] = partner.received;
        expect(got!.body.toString('utf8')).toBe(text);
        expect(got!.method).toBe('POST');
        expect(got!.headers['content-type']).toBe('application/json');
        expect(got!.headers['user-agent']).toMatch(/^skanpost\//);
        expect(got!.headers['idempotency-key']).toMatch(/^[0-9a-f]{32}-\d+$/);
        // The documented recipe: HMAC-SHA256 over "t.body", hex.
        const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(got!.headers['x-skanpost-signature'] as string)!;
        expect(Number(t)).toBe(Math.floor(clock / 1000));
        expect(createHmac('sha256', SECRET).update(`${t}.${got!.body}`).digest('hex')).toBe(v1);
        expect(
          createHmac('sha256', SECRET)
            .update(`${t}.${got!.body.toString().replace('12', '13')}`)
            .digest('hex'),
        ).not.toBe(v1);
      });

      it('enriched: the postback plus campaign name, receive time, decoded events and revenue', async () => {
        const schema = ConversionSchema.parse(JSON.parse(readFileSync(new URL('../fixtures/conversion-schema.json', import.meta.url), 'utf8')));
        await app.writer.run(async (db) => {
          await addSchema(db, 100, schema, new Date(clock));
          await addCampaign(db, { ad_network_id: 'example123.skadnetwork', app_id: 100, source_identifier: '39', name: 'Summer', network_campaign_id: 'c-9' }, new Date(clock));
        });
        await runPendingJobs(app.database.db, app.writer, DEFAULT_INSTALL_MODEL, () => new Date(clock));
        await addDestination({ format: 'enriched', enriched_keys: { campaign_name: 'campaign_name' } });
        const body = body40();
        await app.post(body);
        await drain();
        expect(JSON.parse(partner.received[0]!.body.toString())).toEqual({
          ...body,
          campaign_name: 'Summer',
          'network-campaign-id': 'c-9',
          'received-at': '2026-06-10T12:00:00.000Z',
          'decoded-events': [{ name: 'purchase', min: 1, max: 1 }],
          'decoded-revenue': { min: 0.99, max: 9.99, currency: 'USD' },
        });
      });

      it('template: macros in the URL, URL-encoded, absent ones empty, no body', async () => {
        await addDestination({
          method: 'GET',
          format: 'template',
          url: `${partner.url}/pb?tid={transaction_id}&cv={conversion_value}&cc={country_code}&src={source_identifier}&v={signature}&cmp={campaign_name}`,
        });
        const body = body40({ 'source-identifier': '5239' });
        await app.post(body);
        await drain();
        const [got] = partner.received;
        expect(got!.method).toBe('GET');
        expect(got!.url).toBe(`/pb?tid=${body['transaction-id']}&cv=12&cc=&src=5239&v=verified&cmp=`);
        expect(got!.body.length).toBe(0);
      });

      it('refuses unknown macros and impossible combinations when saved', async () => {
        const bad = await api('POST', '/v1/destinations', { name: 'x', url: `${partner.url}/?a={transaction_idd}`, format: 'template' });
        expect(bad.status).toBe(400);
        expect(bad.body.problems[0]).toEqual({ field: 'url', reason: 'unknown macro {transaction_idd}' });
        expect((await api('POST', '/v1/destinations', { name: 'x', url: partner.url, method: 'GET' })).status).toBe(400);
        expect((await api('POST', '/v1/destinations', { name: 'x', url: 'ftp://example.com' })).status).toBe(400);
        expect((await api('POST', '/v1/destinations', { name: 'x', url: partner.url, headers: { 'Idempotency-Key': 'mine' } })).status).toBe(400);
      });

      it.each([
        [{ url: 'https://user:hunter2-secret@partner.example/pb' }, 'url'],
        [{ url: 'https://user@partner.example/pb?to=a@b' }, 'url'],
        [{ headers: { 'X-Token': 'a\r\nX-Injected: 1' } }, 'headers.X-Token'],
        [{ headers: { 'X-Token': 'a\nb' } }, 'headers.X-Token'],
        [{ headers: { 'Transfer-Encoding': 'chunked' } }, 'headers'],
        [{ headers: { Connection: 'close' } }, 'headers'],
        [{ headers: { 'keep-alive': 'timeout=5' } }, 'headers'],
        [{ format: 'enriched', enriched_keys: { campaign_name: 'conversion-value' } }, 'enriched_keys.campaign_name'],
        [{ format: 'enriched', enriched_keys: { received_at: 'jws-string' } }, 'enriched_keys.received_at'],
        [{ format: 'enriched', enriched_keys: { campaign_name: 'x', network_campaign_id: 'x' } }, 'enriched_keys'],
      ])('refuses a destination that can never deliver: %j', async (input, field) => {
        const r = await api('POST', '/v1/destinations', { name: 'x', url: `${partner.url}/pb`, ...input });
        expect(r.status).toBe(400);
        expect(r.body.problems.map((p: { field: string }) => p.field)).toContain(field);
        expect(JSON.stringify(r.body)).not.toContain('hunter2');
        expect((await api('GET', '/v1/destinations')).body.destinations).toEqual([]);
      });

      it('a send that fails on a URL with credentials keeps an error without the password', async () => {
        // Written past the API's checks, as a database from before them could hold it.
        const { id } = await addDestination({});
        app.database.sqlite.prepare('update destinations set url = ? where id = ?').run(`${partner.url.replace('://', '://ops:hunter2@')}/pb`, id);
        app.database.sqlite.prepare('update settings_revision set revision = revision + 1').run();
        await app.post(body40());
        await sendDue(sender());
        const [delivery] = states();
        expect(delivery!.last_error).toContain('ops:***@');
        expect(delivery!.last_error).not.toContain('hunter2');
      });

      it('a URL with credentials is allowed in no field, and a PATCH cannot add one', async () => {
        const { id } = await addDestination({});
        const r = await api('PATCH', `/v1/destinations/${id}`, { url: 'https://u:hunter2@partner.example/' });
        expect(r.status).toBe(400);
        expect(JSON.stringify(r.body)).not.toContain('hunter2');
      });
    });

    describe('retries and dead letters', () => {
      it('500 three times, then 200: four attempts, one Idempotency-Key', async () => {
        await addDestination({});
        partner.script = [status(500), status(502), status(503)];
        await app.post(body40());
        await drain();
        expect(partner.received).toHaveLength(4);
        expect(new Set(partner.received.map((r) => r.headers['idempotency-key'])).size).toBe(1);
        expect(states()).toEqual([{ state: 'delivered', attempts: 4, last_status: 200, last_error: null }]);
      });

      it('a partner that hangs past the timeout is retried and delivered', async () => {
        await addDestination({ timeout_ms: 200 });
        partner.script = [hang];
        await app.post(body40());
        await sendDue(sender());
        expect(states()[0]).toMatchObject({ state: 'pending', attempts: 1, last_error: 'timed out after 200 ms' });
        await drain();
        expect(states()[0]).toMatchObject({ state: 'delivered', attempts: 2 });
      });

      it('a partner that refuses connections is retried until it is back', async () => {
        const port = partner.port;
        await partner.close();
        await addDestination({ url: `http://127.0.0.1:${port}/pb` });
        await app.post(body40());
        await sendDue(sender());
        expect(states()[0]).toMatchObject({ state: 'pending', attempts: 1 });
        expect(states()[0]!.last_error).toMatch(/^network error/);
        partner = await startPartner(port);
        await drain();
        expect(states()[0]).toMatchObject({ state: 'delivered', attempts: 2 });
        expect(partner.received).toHaveLength(1);
      });

      it('429 with Retry-After waits at least that long', async () => {
        await addDestination({});
        partner.script = [status(429, { 'Retry-After': '7' })];
        await app.post(body40());
        await sendDue(sender());
        const row = app.database.sqlite.prepare('select next_attempt_at from deliveries').get() as { next_attempt_at: number };
        expect(row.next_attempt_at - clock).toBeGreaterThanOrEqual(7000);
        await drain();
        expect(states()[0]).toMatchObject({ state: 'delivered', attempts: 2 });
      });

      it('400 is dead-lettered at once, listed, and delivered when replayed', async () => {
        const { id } = await addDestination({});
        partner.script = [status(400)];
        await app.post(body40());
        await drain();
        expect(states()).toEqual([{ state: 'dead', attempts: 1, last_status: 400, last_error: 'HTTP 400' }]);
        const dead = await api('GET', `/v1/deliveries?destination=${id}&state=dead`);
        expect(dead.body.deliveries).toHaveLength(1);
        expect((await api('POST', '/v1/deliveries/replay', { destination: id, state: 'dead' })).body).toEqual({ replayed: 1 });
        await drain();
        expect(states()[0]).toMatchObject({ state: 'delivered' });
        expect(partner.received).toHaveLength(2);
      });

      it('a redirect is not followed: dead at once, with the status kept', async () => {
        await addDestination({});
        partner.script = [status(301, { Location: 'http://127.0.0.1:9/elsewhere' })];
        await app.post(body40());
        await drain();
        expect(states()).toEqual([{ state: 'dead', attempts: 1, last_status: 301, last_error: 'HTTP 301' }]);
        expect(partner.received).toHaveLength(1);
      });

      it('gives up after max_attempts and keeps the last error', async () => {
        await addDestination({ retry: { ...FAST, max_attempts: 3 } });
        partner.fallback = status(503);
        await app.post(body40());
        await drain();
        expect(states()).toEqual([{ state: 'dead', attempts: 3, last_status: 503, last_error: 'HTTP 503' }]);
        const stats = await api('GET', '/v1/destinations/1/stats');
        expect(stats.body).toMatchObject({ delivered: 0, dead: 1, last_error: { status: 503 } });
      });
    });

    describe('routing and control', () => {
      it('filters send each postback to exactly the partners that want it; duplicates and conflicts to none', async () => {
        const others = await Promise.all([startPartner(), startPartner(), startPartner()]);
        try {
          await addDestination({ name: 'all verified' });
          await addDestination({ name: 'app 200, window 0, winners', url: `${others[0]!.url}/`, filters: { app_ids: [200], windows: [0], winning_only: true } });
          await addDestination({ name: 'everything, forged too, dev too', url: `${others[1]!.url}/`, filters: { verified_only: false, include_development: true } });
          await addDestination({ name: 'aak only', url: `${others[2]!.url}/`, filters: { protocols: ['aak'] } });
          const a = body40();
          await app.post(a);
          await app.post(a); // duplicate
          await app.post({ ...a, 'conversion-value': 13 }); // conflict
          await app.post(body40({ 'app-id': 200 }));
          await app.post(body40({ 'app-id': 200, 'did-win': false }));
          await app.post(signSkan(skanBody('4.0', { 'app-id': 200 }), forger, '4.0')); // invalid
          await app.post({ 'jws-string': signJws({ kid: 'd/0', alg: 'ES256' }, aakPayload(), key) }); // development
          await drain();
          expect(partner.received).toHaveLength(3);
          expect(others[0]!.received).toHaveLength(1);
          expect(others[1]!.received).toHaveLength(5);
          expect(others[2]!.received).toHaveLength(0);
        } finally {
          await Promise.all(others.map((o) => o.close()));
        }
      });

      it('a paused destination accumulates copies and sends them on resume', async () => {
        const { id } = await addDestination({});
        await api('POST', `/v1/destinations/${id}/pause`);
        await app.post(body40());
        await app.post(body40());
        await drain();
        expect(partner.received).toHaveLength(0);
        expect((await api('GET', `/v1/destinations/${id}/stats`)).body).toMatchObject({ pending: 2 });
        await api('POST', `/v1/destinations/${id}/resume`);
        await drain();
        expect(partner.received).toHaveLength(2);
        expect((await api('GET', `/v1/destinations/${id}/stats`)).body).toMatchObject({ delivered: 2, pending: 0, dead: 0 });
      });

      it('backfill queues postbacks received before the destination existed, once', async () => {
        await app.post(body40());
        clock += 3_600_000;
        await app.post(body40());
        const { id } = await addDestination({});
        const r = await api('POST', `/v1/destinations/${id}/backfill`, { since: '2026-06-10T12:30:00Z' });
        expect(r.body).toEqual({ queued: 1 });
        expect((await api('POST', `/v1/destinations/${id}/backfill`, { since: '2026-06-01T00:00:00Z' })).body).toEqual({ queued: 1 });
        await drain();
        expect(partner.received).toHaveLength(2);
      });

      it('never shows the secret, and only admins manage destinations', async () => {
        const { id } = await addDestination({ secret: SECRET });
        const shown = await api('GET', `/v1/destinations/${id}`);
        expect(JSON.stringify(shown.body)).not.toContain(SECRET);
        expect(shown.body.has_secret).toBe(true);
        const patched = await api('PATCH', `/v1/destinations/${id}`, { name: 'renamed' });
        expect(patched.body).toMatchObject({ name: 'renamed', has_secret: true });
        expect((await api('PATCH', `/v1/destinations/${id}`, { secret: null })).body.has_secret).toBe(false);
        expect((await api('PATCH', `/v1/destinations/${id}`, { format: 'xml' })).status).toBe(400);
        expect((await api('PATCH', '/v1/destinations/999', { name: 'x' })).status).toBe(404);
        const analyst = (await app.writer.run((tx) => import('../src/db/api-keys.js').then((m) => m.createApiKey(tx.db, { name: 'a', role: 'analyst' }, new Date())))).secret;
        for (const [method, path] of [
          ['GET', '/v1/destinations'],
          ['POST', '/v1/destinations'],
          ['GET', `/v1/destinations/${id}/stats`],
          ['GET', '/v1/deliveries'],
          ['POST', '/v1/deliveries/replay'],
        ]) {
          const r = await app.app.request(path!, { method, headers: { Authorization: `Bearer ${analyst}` }, body: method === 'POST' ? '{}' : null });
          expect(r.status).toBe(403);
        }
      });
    });

    describe('crashes and concurrency', () => {
      it('a restart mid-retry loses nothing and does not resend what a partner accepted', async () => {
        await addDestination({});
        partner.script = [status(500)];
        await app.post(body40());
        await app.post(body40());
        partner.fallback = (_, res) => res.writeHead(200).end();
        await sendDue(sender()); // one fails (500), one is accepted
        await app.close(); // the process stops between attempts
        app = await createTestApp({ path: join(dir, 'db.sqlite'), extraKeys: key.spkiBase64, adminKey: ADMIN, now: () => new Date(clock) });
        await drain();
        expect(partner.received).toHaveLength(3);
        const keys = partner.received.map((r) => r.headers['idempotency-key']);
        expect(new Set(keys).size).toBe(2);
        expect(states().map((s) => s.state)).toEqual(['delivered', 'delivered']);
      });

      it('a claim lasts the longest destination timeout plus 5 s, and a restarted sole sender frees it', async () => {
        const { claimDue, releaseClaims, runningDestinations } = await import('../src/db/outbox.js');
        await addDestination({ timeout_ms: 2000 });
        await app.post(body40());
        const now = new Date(clock);
        const [claimed] = await app.writer.run(async (tx) => claimDue(tx.db, now, 7000, 10, await runningDestinations(tx.db)));
        expect(claimed!.claimedUntil!.getTime() - clock).toBe(7000);
        expect(await app.writer.run(async (tx) => claimDue(tx.db, now, 7000, 10, await runningDestinations(tx.db)))).toEqual([]); // held
        expect(await app.writer.run((tx) => releaseClaims(tx.db))).toBe(1);
        expect(await app.writer.run(async (tx) => claimDue(tx.db, now, 7000, 10, await runningDestinations(tx.db)))).toHaveLength(1);
        await app.writer.run((tx) => releaseClaims(tx.db));
        await sendDue(sender());
        expect(partner.received).toHaveLength(1);
      });

      it('two senders at once never send one delivery twice', async () => {
        await addDestination({});
        for (let i = 0; i < 20; i++) await app.post(body40());
        const second = await createTestApp({ path: join(dir, 'db.sqlite'), extraKeys: key.spkiBase64, now: () => new Date(clock) });
        try {
          await Promise.all([sendDue(sender(app), 8), sendDue(sender(second), 8), sendDue(sender(app), 8), sendDue(sender(second), 8)]);
          await drain();
        } finally {
          await second.close();
        }
        expect(partner.received).toHaveLength(20);
        expect(new Set(partner.received.map((r) => r.headers['idempotency-key'])).size).toBe(20);
      });
    });
  });
}
