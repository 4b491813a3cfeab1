import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the downstream saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
  bodySha256: string;
  /** The body as text, when it is at most 64 KiB. */
  body?: string;
}

/** `n` pseudo-random bytes, the same for the same `n` and `seed`. */
export function bytesOf(n: number, seed: string): Buffer {
  const body = Buffer.alloc(n);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < n; offset += block.length) {
    block.copy(body, offset);
    block = createHash('sha256').update(block).digest();
  }
  return body;
}

/** A downstream service on 127.0.0.1 that records every request and answers with what it saw. */
export interface EchoServer {
  url: string;
  seen: SeenRequest[];
  /** Access tokens that get one 401 the first time they are seen. */
  refuseOnce: Set<string>;
  /** URLs of requests whose connection closed before their answer was complete (the gateway cancelled them). */
  cancelled: string[];
  /** URLs of requests whose connection closed before their body ended (the gateway stopped sending it). */
  abandoned: string[];
  close(): Promise<void>;
}

/**
 * Starts the echo downstream. Paths steer the answer: `/…/slow?ms=N` waits N ms before answering,
 * `/…/status/NNN` answers NNN, `/…/early/NNN` answers NNN at once, before (and without) reading the body, `/…/refuse-once` answers 401 to a token in `refuseOnce` (once per token),
 * `/…/break` sends its head and part of a body, then drops the connection, `/…/bytes?n=N&seed=S` streams N pseudo-random bytes (`bytesOf(N, S)`) in 64 KiB writes, honouring backpressure.
 * Every answer carries `x-downstream: echo` and hop-by-hop `keep-alive` and `proxy-authenticate` headers the gateway must drop.
 */
export async function startEchoServer(): Promise<EchoServer> {
  const seen: SeenRequest[] = [];
  const refuseOnce = new Set<string>();
  const cancelled: string[] = [];
  const abandoned: string[] = [];
  const server: Server = createServer((request, response) => {
    request.socket.once('close', () => {
      if (!request.complete) abandoned.push(request.url ?? '');
    });
    response.on('close', () => {
      if (!response.writableFinished) cancelled.push(request.url ?? '');
    });
    const early = /\/early\/(\d{3})(?:\?|$)/.exec(request.url ?? '');
    if (early) {
      response.writeHead(Number(early[1]), { 'content-type': 'application/json', 'x-downstream': 'echo' });
      response.end(JSON.stringify({ early: true }));
      request.resume();
      return;
    }
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      if (bytes <= 65536) chunks.push(chunk);
    });
    request.on('end', () => {
      const record: SeenRequest = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        bodyBytes: bytes,
        bodySha256: hash.digest('hex'),
      };
      if (bytes <= 65536) record.body = Buffer.concat(chunks).toString('utf8');
      seen.push(record);

      const path = record.url.split('?')[0] ?? '';
      const query = new URL(record.url, 'http://echo').searchParams;
      const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      let status = 200;
      const statusMatch = /\/status\/(\d{3})$/.exec(path);
      if (statusMatch) status = Number(statusMatch[1]);
      if (path.endsWith('/refuse-once') && token !== undefined && refuseOnce.delete(token)) status = 401;
      const answer = () => {
        response.writeHead(status, {
          'content-type': 'application/json',
          'x-downstream': 'echo',
          'keep-alive': 'timeout=17',
          'proxy-authenticate': 'Basic realm="hop"',
          ...(status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {}),
        });
        response.end(
          JSON.stringify({ method: record.method, url: record.url, bytes, sha256: record.bodySha256 }),
        );
      };
      if (path.endsWith('/break')) {
        response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
        response.write('partial', () => setTimeout(() => response.socket?.destroy(), 20));
        return;
      }
      if (path.endsWith('/bytes')) {
        const body = bytesOf(Number(query.get('n') ?? '0'), query.get('seed') ?? '');
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'x-downstream': 'echo' });
        let offset = 0;
        const writeMore = (): void => {
          while (offset < body.length) {
            const chunk = body.subarray(offset, offset + 65536);
            offset += chunk.length;
            if (!response.write(chunk)) {
              response.once('drain', writeMore);
              return;
            }
          }
          response.end();
        };
        writeMore();
        return;
      }
      const delay = path.endsWith('/slow') ? Number(query.get('ms') ?? '0') : 0;
      if (delay > 0) {
        // A slow answer nobody waits for any more (the gateway timed out, the test closed the echo) is never sent.
        const pending = setTimeout(answer, delay);
        response.once('close', () => clearTimeout(pending));
      } else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    refuseOnce,
    cancelled,
    abandoned,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
