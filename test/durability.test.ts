// The durable-ack promise, against the real server process: every 200 is on disk, even when the
// process is killed without warning mid-load; SIGTERM drains in-flight writes and exits cleanly.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startPartner, status } from './support/partner.js';
import { type ServerProcess, startServer } from './support/server.js';
import { generateKey, signSkan, skanBody } from './support/signing.js';

const key = generateKey('P-256');
const PATH = '/.well-known/skadnetwork/report-attribution/';
let dir: string;
let server: ServerProcess | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'skanpost-durable-'));
});
afterEach(async () => {
  await server?.killAll();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ SKANPOST_DB: join(dir, 'data', 'skanpost.db'), SKANPOST_EXTRA_KEYS: key.spkiBase64 });

function storedIds(): Map<number, string> {
  const db = new Database(env().SKANPOST_DB, { readonly: true });
  try {
    const rows = db.prepare('select id, body from postbacks').all() as Array<{ id: number; body: string }>;
    return new Map(rows.map((r) => [r.id, r.body]));
  } finally {
    db.close();
  }
}

it('every postback answered 200 is stored, with its outbox row, after SIGKILL mid-load and a restart', async () => {
  const ADMIN = 'sigkill-admin-key-0000000000';
  server = await startServer({ ...env(), SKANPOST_ADMIN_KEY: ADMIN });
  // A destination that is never reached (port 9 on loopback refuses), so outbox rows stay put.
  const created = await fetch(`${server.url}/v1/destinations`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ name: 'unreachable', url: 'http://127.0.0.1:9/', retry: { first_delay_s: 3600, max_attempts: 2 } }),
  });
  expect(created.status).toBe(201);
  const acknowledged = new Map<number, string>();
  let stop = false;
  const deadline = Date.now() + 10_000;

  // 16 concurrent senders, each bounded in count and time, until the process dies under them.
  const sender = async () => {
    for (let i = 0; i < 500 && !stop && Date.now() < deadline; i++) {
      const body = JSON.stringify(signSkan(skanBody('4.0'), key, '4.0'));
      try {
        const response = await fetch(`${server!.url}${PATH}`, { method: 'POST', body });
        if (response.status === 200) acknowledged.set((await response.json()).id, body);
      } catch {
        return; // connection refused or reset: the server is gone
      }
    }
  };
  const senders = Array.from({ length: 16 }, sender);
  while (acknowledged.size < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  server.child.kill('SIGKILL');
  await server.exited;
  stop = true;
  await Promise.all(senders);

  expect(acknowledged.size).toBeGreaterThanOrEqual(200);
  const stored = storedIds();
  for (const [id, body] of acknowledged) expect(stored.get(id)).toBe(body);
  const db = new Database(env().SKANPOST_DB, { readonly: true });
  try {
    const queued = new Set((db.prepare('select postback_id as id from deliveries').all() as Array<{ id: number }>).map((r) => r.id));
    for (const id of acknowledged.keys()) expect(queued.has(id)).toBe(true);
  } finally {
    db.close();
  }

  // The restarted server finds them too: a resend is a duplicate of the acknowledged row.
  server = await startServer({ ...env(), SKANPOST_ADMIN_KEY: ADMIN });
  const [id, body] = acknowledged.entries().next().value as [number, string];
  const again = await fetch(`${server.url}${PATH}`, { method: 'POST', body });
  expect(await again.json()).toMatchObject({ id, outcome: 'duplicate' });
});

it('SIGTERM stops accepting, finishes in-flight writes, closes the database and exits 0', async () => {
  server = await startServer(env());
  const post = () => fetch(`${server!.url}${PATH}`, { method: 'POST', body: JSON.stringify(signSkan(skanBody('4.0'), key, '4.0')) });
  expect((await post()).status).toBe(200);
  const inFlight = Array.from({ length: 20 }, () => post().then((r) => r.status));
  await new Promise((r) => setTimeout(r, 5));
  server.child.kill('SIGTERM');
  const statuses = await Promise.allSettled(inFlight);
  expect(await server.exited).toBe(0);
  expect(server.logs()).toContain('"message":"stopped"');
  const ok = statuses.filter((s) => s.status === 'fulfilled' && s.value === 200).length;
  expect(storedIds().size).toBe(ok + 1);
});

it('npm start serves reports from its reader threads, and passes SIGTERM on to the server, which shuts down cleanly', async () => {
  const ADMIN = 'npm-start-admin-key-000000000';
  server = await startServer({ ...env(), SKANPOST_ADMIN_KEY: ADMIN }, { viaNpm: true });
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${server.url}${PATH}`, { method: 'POST', body: JSON.stringify(signSkan(skanBody('4.0'), key, '4.0')) })).status).toBe(200);
  const today = new Date().toISOString().slice(0, 10);
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const report = await fetch(`${server.url}/v1/reports/campaigns?from=${yesterday}&to=${today}&group_by=date`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  expect(report.status).toBe(200);
  expect(((await report.json()) as { rows: Array<{ date: string; postbacks: number }> }).rows).toEqual([expect.objectContaining({ date: today, postbacks: 1 })]);
  server.child.kill('SIGTERM');
  await server.exited;
  expect(server.logs()).toContain('"message":"stopped"');
});

it('creates the database folder and applies migrations on first start, and /healthz says so', async () => {
  server = await startServer({ ...env(), SKANPOST_METRICS_PORT: '0' });
  const health = await fetch(`${server.url}/healthz`);
  expect(health.status).toBe(200);
  // The optional metrics port answers without a key, with the Node runtime's own figures.
  const metricsPort = /"message":"metrics listening","port":(\d+)/.exec(server.logs())?.[1];
  const scraped = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(scraped).toContain('# TYPE skanpost_group_commit_units histogram');
  expect(scraped).toContain('# TYPE skanpost_group_commit_isolated_retries_total counter');
  expect(scraped).toMatch(/skanpost_database_bytes \d+/);
  expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
  expect(storedIds().size).toBe(0);
});

it('refuses to start with a clear message when SKANPOST_EXTRA_KEYS is malformed', async () => {
  await expect(startServer({ ...env(), SKANPOST_EXTRA_KEYS: 'not-a-key!' })).rejects.toThrow(/configuration error: SKANPOST_EXTRA_KEYS entry 1/);
});

it('the server forwards copies in the background and, after SIGKILL, sends what was still owed', async () => {
  const partner = await startPartner();
  const ADMIN = 'durability-admin-key-000000';
  try {
    server = await startServer({ ...env(), SKANPOST_ADMIN_KEY: ADMIN });
    const created = await fetch(`${server.url}/v1/destinations`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ name: 'mmp', url: `${partner.url}/pb`, retry: { first_delay_s: 0.2, factor: 1, cap_s: 0.2, max_attempts: 50 } }),
    });
    expect(created.status).toBe(201);
    const send = () => fetch(`${server!.url}${PATH}`, { method: 'POST', body: JSON.stringify(signSkan(skanBody('4.0'), key, '4.0')) });
    expect((await send()).status).toBe(200);
    const until = async (condition: () => boolean) => {
      for (const deadline = Date.now() + 10_000; !condition() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      expect(condition()).toBe(true);
    };
    await until(() => partner.received.length === 1);

    partner.fallback = status(503); // the partner goes down; copies wait in the outbox
    expect((await send()).status).toBe(200);
    await until(() => partner.received.length >= 2);
    await server.killAll();
    partner.fallback = (_, res) => res.writeHead(200).end();
    server = await startServer({ ...env(), SKANPOST_ADMIN_KEY: ADMIN });
    const keys = () => new Set(partner.received.map((r) => r.headers['idempotency-key']));
    await until(() => keys().size === 2 && partner.received.at(-1)!.headers['idempotency-key'] === [...keys()][1]);
    const db = new Database(env().SKANPOST_DB, { readonly: true });
    try {
      await until(() => (db.prepare("select count(*) as n from deliveries where state = 'delivered'").get() as { n: number }).n === 2);
    } finally {
      db.close();
    }
  } finally {
    await partner.close();
  }
});

it('closes connections from clients too slow to send their headers', async () => {
  server = await startServer({ ...env(), SKANPOST_HEADERS_TIMEOUT_MS: '500', SKANPOST_REQUEST_TIMEOUT_MS: '1000' });
  const { port } = new URL(server.url);
  const started = Date.now();
  const closedAfter = await new Promise<number>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write('POST /.well-known/skadnetwork/report-attribution/ HTTP/1.1\r\nHost: x\r\n'));
    socket.on('data', () => undefined);
    socket.on('close', () => resolve(Date.now() - started));
    socket.on('error', reject);
    setTimeout(() => reject(new Error('still open after 5 s')), 5000).unref();
  });
  expect(closedAfter).toBeLessThan(5000);
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
});

it('checks the allowlist against the real client address, and refuses a malformed one at start', async () => {
  server = await startServer({ ...env(), SKANPOST_ALLOWLIST: '10.0.0.0/8' });
  const refused = await fetch(`${server.url}${PATH}`, { method: 'POST', body: JSON.stringify(signSkan(skanBody('4.0'), key, '4.0')) });
  expect(refused.status).toBe(403);
  await server.killAll();
  server = await startServer({ ...env(), SKANPOST_ALLOWLIST: '127.0.0.0/8, ::1' });
  expect((await fetch(`${server.url}${PATH}`, { method: 'POST', body: JSON.stringify(signSkan(skanBody('4.0'), key, '4.0')) })).status).toBe(200);
  await server.killAll();
  await expect(startServer({ ...env(), SKANPOST_ALLOWLIST: '10.0.0.0/99' })).rejects.toThrow(/configuration error: SKANPOST_ALLOWLIST/);
});

it('refuses an over-limit body by its declared Content-Length, and reads no more than a short one declares', async () => {
  server = await startServer(env());
  const { port } = new URL(server.url);
  const exchange = (head: string, body: string) =>
    new Promise<string>((resolve, reject) => {
      let answer = '';
      const socket = connect(Number(port), '127.0.0.1', () => socket.end(`POST ${PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${head}\r\n${body}`));
      socket.on('data', (chunk) => (answer += chunk.toString()));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
      setTimeout(() => reject(new Error('no answer after 5 s')), 5000).unref();
    });
  const big = JSON.stringify({ ...signSkan(skanBody('4.0'), key, '4.0'), padding: 'x'.repeat(20_000) });
  const refused = await exchange(`Content-Length: ${big.length}\r\n`, big);
  expect(refused).toMatch(/^HTTP\/1\.1 413 /);
  expect(refused).toMatch(/^x-content-type-options: nosniff\r$/im);
  // A client that declares fewer bytes than it sends: the body ends where the declaration says,
  // so a signed postback cut short is refused as malformed, and the rest is never read as a body.
  const signed = JSON.stringify(signSkan(skanBody('4.0'), key, '4.0'));
  expect(await exchange(`Content-Length: 10\r\n`, signed + 'x'.repeat(20_000))).toMatch(/^HTTP\/1\.1 400 /);
  expect(storedIds().size).toBe(0);
  // Over node:http the 200, built with its headers, carries the same security headers as a problem.
  const kept = await fetch(`${server.url}${PATH}`, { method: 'POST', body: signed });
  expect(kept.status).toBe(200);
  expect(['content-type', 'x-content-type-options', 'x-frame-options', 'strict-transport-security'].map((name) => kept.headers.get(name))).toEqual([
    'application/json',
    'nosniff',
    'SAMEORIGIN',
    'max-age=15552000; includeSubDomains',
  ]);
  expect(await kept.json()).toMatchObject({ outcome: 'stored', signature: 'verified' });
});

it('refuses an over-limit body sent without Content-Length (chunked) with 413', async () => {
  server = await startServer(env());
  const chunk = new TextEncoder().encode(`{"padding":"${'x'.repeat(6000)}`);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 4; i++) controller.enqueue(chunk); // 24 KB in all, no length announced
      controller.close();
    },
  });
  const response = await fetch(`${server.url}${PATH}`, { method: 'POST', body, duplex: 'half' } as RequestInit);
  expect(response.status).toBe(413);
  expect(storedIds().size).toBe(0);
});
