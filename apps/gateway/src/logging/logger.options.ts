import type { Type } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { GatewayConfig } from '../config/gateway.config.js';
import { requestIdOf } from './request-id.js';

const SECRET_FIELDS = ['client_secret', 'password', 'access_token', 'refresh_token'];

/** Log paths that are censored at every level: credentials, cookies and tokens, at any of the usual depths. */
export const REDACTED_PATHS: string[] = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
];

const QUIET_PATHS = new Set(['/health', '/metrics']);

/** The request's path; Nest's Fastify middleware strips the matched path from `url` and keeps `originalUrl`. */
function pathOf(request: IncomingMessage & { originalUrl?: string }): string {
  const url = request.originalUrl ?? request.url;
  if (url === undefined) return '';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/**
 * nestjs-pino options of the gateway: JSON lines (pino-pretty only under `NODE_ENV=development`), a request id on
 * every line, secrets redacted. pino-http runs for the gateway's own `controllers` only: the proxy path stays lean
 * (no middleware) and logs its own failures with the request id; `/health` and `/metrics` are not access-logged.
 */
export function gatewayLoggerParams(config: GatewayConfig, controllers: readonly Type[]): Params {
  return {
    pinoHttp: {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
      transport:
        config.nodeEnv === 'development'
          ? { target: 'pino-pretty', options: { singleLine: true } }
          : undefined,
      genReqId: (request: IncomingMessage) => requestIdOf(request),
      quietReqLogger: true,
      autoLogging: { ignore: (request: IncomingMessage) => QUIET_PATHS.has(pathOf(request)) },
      customLogLevel: (_request: IncomingMessage, response: ServerResponse, error?: Error) =>
        error || response.statusCode >= 500 ? 'error' : response.statusCode >= 400 ? 'warn' : 'info',
    },
    forRoutes: [...controllers],
  };
}
