// Deliveries sent with node:http and node:https over keep-alive connections. The sender's fetch
// (undici's WHATWG fetch in Node 20) builds a Request, web streams and an AbortSignal per copy: a
// request to a local partner cost 584 µs of CPU by fetch and 153 by node:http, client and partner
// together (BENCHMARKS.md), on the thread that also writes every postback.
import { type ClientRequest, Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Send } from '../forward/sender.js';

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** `ca`: certificates to trust beyond Node's (a test's own authority); the server passes none. */
export function createNodeSend(options: { ca?: string } = {}): Send {
  // One pool per scheme: a partner's connection is reused from copy to copy.
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) }) };
  return (outgoing, timeoutMs) =>
    new Promise((resolve, reject) => {
      const url = new URL(outgoing.url);
      const secure = url.protocol === 'https:';
      if (!secure && url.protocol !== 'http:') return reject(new Error(`cannot send to a ${url.protocol} URL`));
      // As fetch refuses them (a database from before the API's checks may hold one): never sent.
      if (url.username || url.password) return reject(new TypeError(`Request cannot be constructed from a URL that includes credentials: ${outgoing.url}`));
      const body = outgoing.body === null ? undefined : Buffer.from(outgoing.body);
      const headers = body ? Object.assign({}, outgoing.headers, { 'content-length': body.byteLength }) : outgoing.headers;
      const sending = { method: outgoing.method, headers, agent: secure ? agents.https : agents.http };
      const answered = (response: IncomingMessage) => {
        clearTimeout(timer);
        // Drained, not read: the connection goes back to the pool once the body has passed. A reset
        // while it drains changes nothing about the answer already had.
        response.on('error', () => undefined).resume();
        const retryAfter = response.headers['retry-after'];
        resolve({ status: response.statusCode ?? 0, retryAfter: retryAfter ?? null });
      };
      const request: ClientRequest = secure ? httpsRequest(url, sending, answered) : httpRequest(url, sending, answered);
      const timer = setTimeout(() => request.destroy(new TimeoutError(`timed out after ${timeoutMs} ms`)), timeoutMs);
      request.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      request.end(body);
    });
}

export const nodeSend = createNodeSend();
