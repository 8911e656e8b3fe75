// A partner's HTTP endpoint on 127.0.0.1 that records what it receives and answers as told.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type Behaviour = (req: Received, res: ServerResponse) => void;

const ok: Behaviour = (_, res) => res.writeHead(200).end('ok');
export const status =
  (code: number, headers: Record<string, string> = {}): Behaviour =>
  (_, res) =>
    res.writeHead(code, headers).end();
export const hang: Behaviour = () => undefined; // never answers

export interface Partner {
  url: string;
  port: number;
  received: Received[];
  /** Answers in this order, then `fallback` for every further request. */
  script: Behaviour[];
  fallback: Behaviour;
  close(): Promise<void>;
}

export async function startPartner(port = 0): Promise<Partner> {
  const partner = { received: [] as Received[], script: [] as Behaviour[], fallback: ok } as Partner;
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      partner.received.push(received);
      open.add(res);
      res.on('close', () => open.delete(res));
      (partner.script.shift() ?? partner.fallback)(received, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  partner.port = (server.address() as AddressInfo).port;
  partner.url = `http://127.0.0.1:${partner.port}`;
  partner.close = () =>
    new Promise<void>((resolve) => {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return partner;
}
