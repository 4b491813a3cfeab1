import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestIdOf } from './request-id.js';

const REPORTS_ITSELF = Symbol('reportsItself');

/** A raw request that may carry the `reportsItself` mark. */
interface MarkableRequest {
  [REPORTS_ITSELF]?: true;
}

/** Leaves `request` out of the access log: the proxy marks its requests, which report their own failures. */
export function skipAccessLog(request: FastifyRequest): void {
  (request.raw as MarkableRequest)[REPORTS_ITSELF] = true;
}

/** Where access lines go: a pino logger (or `PinoLogger`). */
export interface AccessLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Probed all the time: not access-logged. */
const QUIET_PATHS = new Set(['/health', '/metrics']);

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/**
 * Writes the access line of a request to one of the gateway's own routes (or to no route), once its response is
 * sent (unless `skipAccessLog` marked it): `reqId`, `req.method`, `req.url` (the path only: a query string may carry secrets), `res.statusCode` and
 * `responseTime` (ms), at info below 400, warn for 4xx, error for 5xx — pino-http's line, without headers. `/health`
 * and `/metrics` are not logged.
 * @example
 * fastify.addHook('onResponse', (request, reply, done) => {
 *   logAccess(logger, request, reply);
 *   done();
 * });
 */
export function logAccess(logger: AccessLogger, request: FastifyRequest, reply: FastifyReply): void {
  if ((request.raw as MarkableRequest)[REPORTS_ITSELF] === true) return;
  const url = pathOf(request.url);
  if (QUIET_PATHS.has(url)) return;
  const statusCode = reply.statusCode;
  const fields = {
    reqId: requestIdOf(request.raw),
    req: { method: request.method, url },
    res: { statusCode },
    responseTime: Math.round(reply.elapsedTime * 1000) / 1000,
  };
  if (statusCode >= 500) logger.error(fields, 'request errored');
  else if (statusCode >= 400) logger.warn(fields, 'request completed');
  else logger.info(fields, 'request completed');
}
