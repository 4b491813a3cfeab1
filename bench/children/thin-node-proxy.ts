import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { announceListening } from './child-ipc.js';

const upstream = process.env.BENCH_UPSTREAM;
if (!upstream) throw new Error('BENCH_UPSTREAM (the downstream base URL) is required');

/** Hop-by-hop headers: the least any proxy drops. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

const pool = new Pool(upstream, { connections: 128, pipelining: 1 });

function forwardedHeaders(incoming: IncomingHttpHeaders): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value !== undefined && name !== 'host' && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  return headers;
}

function startAnswer({
  statusCode,
  headers,
  opaque,
}: Dispatcher.StreamFactoryData<ServerResponse>): ServerResponse {
  opaque.statusCode = statusCode;
  for (const name in headers) if (!HOP_BY_HOP.has(name)) opaque.setHeader(name, headers[name]!);
  return opaque;
}

/**
 * The thinnest Node proxy, the baseline every ratio of the bench is against: a plain `node:http` request listener
 * and undici's `Pool.stream()` writing straight into the response. No framework, no router, no auth, no logs.
 */
const server = createServer((request, response) => {
  pool.stream(
    {
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      headers: forwardedHeaders(request.headers),
      body: request.method === 'GET' || request.method === 'HEAD' ? null : request,
      opaque: response,
    },
    startAnswer,
    (error) => {
      if (!error) return;
      if (response.headersSent) response.destroy();
      else response.writeHead(502).end();
    },
  );
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => announceListening((server.address() as AddressInfo).port));
