import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { forwardedHeaders, startAnswer, upstreamPool } from './undici-relay.js';

/** A running thinnest Node proxy. */
export interface ThinProxy {
  port: number;
  /** Closes its listener, its callers' connections and its pool. */
  close(): Promise<void>;
}

/**
 * Starts the thinnest Node proxy on a free loopback port and resolves with the port: a plain `node:http` request
 * listener and undici's `Pool.stream()` writing straight into the response, to `BENCH_UPSTREAM`. No framework, no
 * router, no auth, no logs. The baseline every ratio of the bench is against (`thin-node-proxy.ts`), and the
 * proxy the two isolation rows run beside the gateway's app (`thin-proxy-beside-app.ts`).
 */
export async function startThinProxy(): Promise<ThinProxy> {
  const pool = upstreamPool();
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
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await Promise.all([once(server, 'close'), pool.close()]);
    },
  };
}
