import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announceListening } from './child-ipc.js';
import { forwardedHeaders, startAnswer, upstreamPool } from './undici-relay.js';

const pool = upstreamPool();

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
