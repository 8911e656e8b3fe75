// The Node server's client for deliveries (node:http and node:https, keep-alive) against real
// servers on 127.0.0.1: what it sends, what it keeps of the answer, and when it gives up. The whole
// delivery loop runs over it in forwarding.test.ts; here, TLS and the edges of one request.
import 'reflect-metadata'; // before @peculiar/x509 loads (it needs the polyfill)
import { webcrypto } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SubjectAlternativeNameExtension, X509CertificateGenerator } from '@peculiar/x509';
import { afterEach, expect, it } from 'vitest';
import { createNodeSend, nodeSend } from '../src/node/send.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void;
const received: Array<{ method: string; headers: IncomingMessage['headers']; body: string }> = [];
const handle =
  (handler: Handler) =>
  (request: IncomingMessage, response: ServerResponse): void => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      received.push({ method: request.method!, headers: request.headers, body });
      handler(request, body, response);
    });
  };

async function listen(server: Server, scheme: 'http' | 'https'): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A certificate for 127.0.0.1, its own authority: trusted only where the test says so. */
async function selfSigned(): Promise<{ cert: string; key: string }> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const certificate = await X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=127.0.0.1',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: algorithm,
    extensions: [new SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { cert: certificate.toString('pem'), key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n` };
}

const postback = '{"version":"4.0","ad-network-id":"example.skadnetwork","note":"caf\u00e9 \u{1F600}"}';

it('sends over https to a partner whose certificate it trusts: method, headers and body as given, the status back', async () => {
  const tls = await selfSigned();
  const url = await listen(
    createHttpsServer(
      tls,
      handle((_, __, response) => response.writeHead(202).end('accepted')),
    ),
    'https',
  );
  received.length = 0;
  const send = createNodeSend({ ca: tls.cert });
  const answer = await send({ url: `${url}/pb?x=1`, method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'k-1' }, body: postback }, 5_000);
  expect(answer).toEqual({ status: 202, retryAfter: null });
  expect(received).toEqual([
    {
      method: 'POST',
      headers: expect.objectContaining({ 'content-type': 'application/json', 'idempotency-key': 'k-1', 'content-length': String(Buffer.byteLength(postback)) }),
      body: postback,
    },
  ]);
  // The connection is kept for the next copy.
  expect((await send({ url: `${url}/pb`, method: 'GET', headers: {}, body: null }, 5_000)).status).toBe(202);
});

it('refuses a certificate no authority it trusts has signed: no copy goes out', async () => {
  const tls = await selfSigned();
  const url = await listen(
    createHttpsServer(
      tls,
      handle((_, __, response) => response.writeHead(200).end()),
    ),
    'https',
  );
  received.length = 0;
  await expect(nodeSend({ url, method: 'POST', headers: {}, body: postback }, 5_000)).rejects.toThrow(/self[- ]signed/i);
  expect(received).toEqual([]);
});

it('keeps a Retry-After as given (after a long body it drains) and follows no redirect', async () => {
  const url = await listen(
    createHttpServer(
      handle((request, _, response) => {
        if (request.url === '/busy') response.writeHead(503, { 'Retry-After': '7' }).end('x'.repeat(200_000));
        else response.writeHead(302, { Location: '/elsewhere' }).end();
      }),
    ),
    'http',
  );
  expect(await nodeSend({ url: `${url}/busy`, method: 'POST', headers: {}, body: postback }, 5_000)).toEqual({ status: 503, retryAfter: '7' });
  expect(await nodeSend({ url: `${url}/moved`, method: 'POST', headers: {}, body: postback }, 5_000)).toEqual({ status: 302, retryAfter: null });
});

it('gives up after the timeout with a TimeoutError, and reports a refused connection as the network said it', async () => {
  const url = await listen(
    createHttpServer(() => undefined), // never answers
    'http',
  );
  const timedOut = await nodeSend({ url, method: 'POST', headers: {}, body: postback }, 200).catch((error: Error) => error);
  expect(timedOut).toBeInstanceOf(Error);
  expect((timedOut as Error).name).toBe('TimeoutError');
  const closed = await listen(createHttpServer(), 'http');
  await new Promise((resolve) => servers.pop()!.close(resolve));
  await expect(nodeSend({ url: closed, method: 'POST', headers: {}, body: postback }, 5_000)).rejects.toThrow(/ECONNREFUSED/);
});

it('sends nothing to a URL with credentials or of another scheme', async () => {
  await expect(nodeSend({ url: 'http://ops:hunter2@127.0.0.1:9/pb', method: 'POST', headers: {}, body: null }, 1_000)).rejects.toThrow(/includes credentials/);
  await expect(nodeSend({ url: 'ftp://127.0.0.1/pb', method: 'POST', headers: {}, body: null }, 1_000)).rejects.toThrow(/ftp:/);
});
