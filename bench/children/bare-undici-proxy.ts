import Fastify from 'fastify';
import type { ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { announceListening } from './child-ipc.js';

const upstream = process.env.BENCH_UPSTREAM;
if (!upstream) throw new Error('BENCH_UPSTREAM (the downstream base URL) is required');

/** Hop-by-hop headers: the least any proxy drops. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

const pool = new Pool(upstream, { connections: 128, pipelining: 1 });

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
 * The gateway's own proxy core with nothing else: Fastify and undici's `Pool.stream()` writing straight into the
 * caller's response, no auth, no header rewriting beyond hop-by-hop, no metrics or logs.
 */
const app = Fastify({ logger: false });
app.all('/*', (request, reply) => {
  const headers: Record<string, string | string[]> = {};
  for (const name in request.headers) {
    const value = request.headers[name];
    if (value !== undefined && name !== 'host' && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  reply.hijack();
  pool.stream(
    { method: request.method, path: request.url, headers, opaque: reply.raw },
    startAnswer,
    (error) => {
      if (error && !reply.raw.headersSent) reply.raw.writeHead(502).end();
    },
  );
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
announceListening(typeof address === 'object' && address ? address.port : 0);
