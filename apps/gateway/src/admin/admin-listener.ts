import type { FastifyInstance } from 'fastify';
import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { rawJsonAnswer } from '../errors/raw-json-answer.js';
import { isUnder } from '../proxy/route-prefixes.js';

/** The paths of the admin surface: liveness, readiness, health and Prometheus metrics. */
export const ADMIN_PATH_PREFIXES: readonly string[] = ['/health', '/metrics'];

/** Whether `url` is `/health`, `/health/…`, `/metrics` … (a query included), never `/healthz`. */
export function isAdminPath(url: string): boolean {
  return ADMIN_PATH_PREFIXES.some((prefix) => isUnder(url, prefix));
}

const CONNECT_REFUSED = JSON.stringify({
  statusCode: 405,
  error: 'Method Not Allowed',
  message: 'CONNECT is not allowed: the gateway is not a forward proxy',
});

/** Answers a `CONNECT` (which Node hands to `connect` listeners, never to the router) with a JSON 405. */
export function refuseConnect(_request: unknown, socket: Duplex): void {
  socket.end(rawJsonAnswer(405, CONNECT_REFUSED));
}

/**
 * A second listener (`GATEWAY_ADMIN_PORT`), not listening yet, served by the same Fastify router, so `/health*` and
 * `/metrics` keep their hooks and error handling; the gateway's `onRequest` hook keeps admin paths on it and
 * everything else off it.
 */
export function adminListener(fastify: FastifyInstance): Server {
  const server = createServer((request, response) => fastify.routing(request, response));
  server.on('connect', refuseConnect);
  return server;
}

/** Starts `server` listening; resolves once it does, rejects on a listen error (port taken …). */
export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
