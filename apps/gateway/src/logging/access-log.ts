import type { FastifyReply, FastifyRequest } from 'fastify';
import type { V3Clock } from 'nestjs-v3-token-auth';
import { requestIdOf } from './request-id.js';
import { WarningAggregator } from './warning-aggregator.js';

/** Where access lines go: a pino logger (or `PinoLogger`). */
export interface AccessLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Options of {@link AccessLog}. */
export interface AccessLogOptions {
  /** The caller address a request is counted under (`TrustedProxies.callerAddressOf`). */
  callerAddress(request: FastifyRequest): string;
  /** Clock of the repeat windows. */
  clock: V3Clock;
  /** One 4xx line per caller address and status per window, ms. @default 60000 */
  windowMs?: number;
  /** Caller address and status pairs tracked at once (see `WarningAggregator`). @default 1000 */
  maxKeys?: number;
}

/** Probed all the time: not access-logged. */
const QUIET_PATHS = new Set(['/health', '/metrics']);

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/**
 * The access log of the gateway's own routes (and of requests to no route), one line per request once its response
 * is sent (proxied routes never reach it: the data plane serves them and reports its own failures): `reqId`,
 * `req.method`, `req.url` (the path only: a query string may carry secrets), `res.statusCode` and `responseTime`
 * (ms), at info below 400, warn for 4xx, error for 5xx — pino-http's line, without headers. `/health` and `/metrics` are not logged. A 4xx is what a caller can repeat at
 * will (wrong secrets at `POST /token`, unknown paths), so 4xx lines are aggregated: the first per caller address and
 * status in a window is written, the repeats are counted and written as one line when the window closes (`flush`).
 * @example
 * const accessLog = new AccessLog(logger, { callerAddress: (request) => request.ip, clock: { now: Date.now } });
 * fastify.addHook('onResponse', (request, reply, done) => {
 *   accessLog.record(request, reply);
 *   done();
 * });
 */
export class AccessLog {
  private readonly repeats: WarningAggregator;

  constructor(
    private readonly logger: AccessLogger,
    private readonly options: AccessLogOptions,
  ) {
    this.repeats = new WarningAggregator({
      windowMs: options.windowMs,
      maxKeys: options.maxKeys,
      clock: options.clock,
      write: (line) => logger.warn({}, line),
    });
  }

  /** Writes the access line of `request` (or counts it, for a repeated 4xx). */
  record(request: FastifyRequest, reply: FastifyReply): void {
    const url = pathOf(request.url);
    if (QUIET_PATHS.has(url)) return;
    const statusCode = reply.statusCode;
    if (statusCode >= 400 && statusCode < 500) {
      const address = this.options.callerAddress(request);
      const summary = `Requests from ${address} answered ${statusCode}`;
      if (!this.repeats.admit(`${address} ${statusCode}`, summary)) return;
    }
    const fields = {
      reqId: requestIdOf(request.raw),
      req: { method: request.method, url },
      res: { statusCode },
      responseTime: Math.round(reply.elapsedTime * 1000) / 1000,
    };
    if (statusCode >= 500) this.logger.error(fields, 'request errored');
    else if (statusCode >= 400) this.logger.warn(fields, 'request completed');
    else this.logger.info(fields, 'request completed');
  }

  /** Writes the counts of the repeat windows that are over (every window with `all`, at shutdown). */
  flush(all = false): void {
    this.repeats.flush(all);
  }
}
