import type { Params } from 'nestjs-pino';
import type { GatewayConfig } from '../config/gateway.config.js';

const SECRET_FIELDS = ['client_secret', 'password', 'access_token', 'refresh_token'];

/** Log paths that are censored at every level: credentials, cookies and tokens, at any of the usual depths. */
export const REDACTED_PATHS: string[] = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
];

/**
 * nestjs-pino options of the gateway: the application logger, JSON lines at `LOG_LEVEL` (pino-pretty only under
 * `NODE_ENV=development`), secrets redacted. No HTTP middleware at all (`forRoutes: []`): nestjs-pino's would put
 * @fastify/middie's engine on every request and its AsyncLocalStorage context on every async operation of the
 * process. The gateway access-logs its own routes from a Fastify hook instead (`logAccess`), with plain `req` and
 * `res` objects, hence no pino-http serializers (`wrapSerializers: false`).
 */
export function gatewayLoggerParams(config: GatewayConfig): Params {
  return {
    pinoHttp: {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
      transport:
        config.nodeEnv === 'development'
          ? { target: 'pino-pretty', options: { singleLine: true } }
          : undefined,
      wrapSerializers: false,
    },
    forRoutes: [],
  };
}
