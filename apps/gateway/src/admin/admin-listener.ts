import type { FastifyInstance } from 'fastify';
import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { answerClientError } from '../errors/client-error.js';
import { answerExpectationFailed, answerHeadProblem } from '../errors/listener-answers.js';
import { rawJsonAnswer } from '../errors/raw-json-answer.js';
import { headProblemOf } from '../proxy/request-head.js';
import { isUnder } from '../proxy/route-prefixes.js';

/** The paths of the admin surface: liveness, readiness, health and Prometheus metrics. */
export const ADMIN_PATH_PREFIXES: readonly string[] = ['/health', '/metrics'];

/**
 * Whether the route Fastify matched (`request.routeOptions.url`: its pattern, undefined when none matched) is one of
 * the admin surface: `/health`, `/health/…`, `/metrics`, never `/healthz`. The matched route, not the request's URL:
 * the router decodes `%6detrics` and reduces `http://host/metrics` to `/metrics` before it matches.
 */
export function isAdminRoute(route: string | undefined): boolean {
  return route !== undefined && ADMIN_PATH_PREFIXES.some((prefix) => isUnder(route, prefix));
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
 * `/metrics` keep their hooks and error handling; the gateway's `onRequest` hook keeps admin routes on it and
 * everything else off it. Its refusals are the main listener's JSON: a bad head, an unparsable request, an `Expect`.
 */
export function adminListener(fastify: FastifyInstance): Server {
  const server = createServer({ requireHostHeader: false }, (request, response) => {
    const problem = headProblemOf(request);
    if (problem === undefined) fastify.routing(request, response);
    else answerHeadProblem(request, response, problem);
  });
  server.on('connect', refuseConnect);
  server.on('clientError', answerClientError);
  server.on('checkExpectation', answerExpectationFailed);
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
