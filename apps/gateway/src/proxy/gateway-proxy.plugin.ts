import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { V3TokenException, V3UnauthorizedException, type V3Principal } from 'nestjs-v3-token-auth';
import type { GatewayRoute } from '../config/gateway.config.js';
import { toErrorReply } from '../errors/error-reply.js';
import { skipAccessLog } from '../logging/access-log.js';
import { requestIdOf } from '../logging/request-id.js';
import { Downstream, type ForwardOutcome } from './downstream.js';

/** How the proxy authenticates callers. The gateway backs it with `V3TokenAuthGuard` and `V3TokenService`. */
export interface ProxyAuthenticator {
  /**
   * Authenticates the request and sets `request.user` to its principal: `true` when that happened synchronously
   * (a warm cache hit), else a promise. Throws or rejects with a `V3TokenException`.
   */
  authenticate(request: FastifyRequest, reply: FastifyReply): boolean | Promise<boolean>;
  /** The downstream refused `principal`'s token: evict it (only while the cache still holds that token). */
  invalidate(principal: V3Principal): Promise<void>;
  /** Authenticates the same `Authorization` header again, after `invalidate`. */
  reauthenticate(authorization: string | string[] | undefined): Promise<V3Principal>;
}

/** Where the proxy reports failures: a pino-compatible logger. */
export interface ProxyLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface GatewayProxyOptions {
  routes: readonly GatewayRoute[];
  /** Headers (and idle body) timeout of one downstream call, ms; 504 when it fires before the headers. */
  upstreamTimeoutMs: number;
  auth: ProxyAuthenticator;
  /** Keep-alive connections per downstream origin, at most. @default 128 */
  connections?: number;
  logger: ProxyLogger;
  /** Called once per proxied request when its response has been sent. */
  observe?(route: string, method: string, status: number, seconds: number): void;
}

interface ProxiedRequest extends FastifyRequest {
  user?: V3Principal;
}

/** Answers a failed downstream call: a Fastify reply, or the raw response once the reply was hijacked. */
function sendFailure(reply: FastifyReply, status: number, body: object): void {
  if (!reply.sent) {
    void reply.code(status).type('application/json; charset=utf-8').send(body);
    return;
  }
  const raw = reply.raw;
  if (raw.headersSent || raw.destroyed) return;
  for (const name of raw.getHeaderNames()) if (name !== 'x-request-id') raw.removeHeader(name);
  const json = JSON.stringify(body);
  raw.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  raw.end(json);
}

function sendError(reply: FastifyReply, exception: unknown): void {
  const answer = toErrorReply(exception);
  void reply
    .code(answer.status)
    .headers(answer.headers)
    .type('application/json; charset=utf-8')
    .send(answer.body);
}

/**
 * The proxy: every route prefix is served by its `Downstream` (an undici pool) behind the authenticator, with
 * request bodies left as streams (no content-type parser consumes them) and answers streamed back unchanged but for
 * hop-by-hop headers. A downstream 401 evicts the relayed token and, when the request has no body to replay, retries
 * once with a fresh one.
 * Register it in its own encapsulated context (`app.register(gatewayProxy, options)`).
 */
export const gatewayProxy: FastifyPluginCallback<GatewayProxyOptions> = (
  instance: FastifyInstance,
  options: GatewayProxyOptions,
  done: (error?: Error) => void,
) => {
  const { auth, logger, observe, upstreamTimeoutMs } = options;

  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', (_request, payload, parsed) => parsed(null, payload));
  const connections = options.connections ?? 128;

  instance.addHook('onRequest', (request, reply, next) => {
    skipAccessLog(request);
    let outcome: boolean | Promise<boolean>;
    try {
      outcome = auth.authenticate(request, reply);
    } catch (error) {
      next(error as Error);
      return;
    }
    if (outcome === true) next();
    else if (outcome === false) next(new V3UnauthorizedException('Authentication failed'));
    else
      outcome.then(
        (allowed) => next(allowed ? undefined : new V3UnauthorizedException('Authentication failed')),
        (error: Error) => next(error),
      );
  });

  instance.setErrorHandler((error, request, reply) => {
    const answer = toErrorReply(error);
    if (error instanceof V3TokenException) {
      if (answer.status >= 500) {
        logger.warn(
          { reqId: requestIdOf(request.raw), status: answer.status, reason: answer.body.message },
          'token unavailable',
        );
      }
    } else if (answer.status >= 500) {
      logger.error({ reqId: requestIdOf(request.raw), err: error }, 'proxy request failed');
    }
    void reply
      .code(answer.status)
      .headers(answer.headers)
      .type('application/json; charset=utf-8')
      .send(answer.body);
  });

  const downstreams: Downstream[] = [];
  instance.addHook('onClose', (_instance, closed) => {
    Promise.all(downstreams.map((downstream) => downstream.close())).then(() => closed(), closed);
  });

  for (const route of options.routes) {
    const downstream = new Downstream({
      prefix: route.prefix,
      target: route.target,
      timeoutMs: upstreamTimeoutMs,
      connections,
    });
    downstreams.push(downstream);

    const settle = (request: ProxiedRequest, reply: FastifyReply, outcome: ForwardOutcome): void => {
      switch (outcome.kind) {
        case 'relayed':
          return;
        case 'unauthorized':
          retry(request, reply);
          return;
        case 'broken':
          logger.warn(
            { reqId: requestIdOf(request.raw), route: route.prefix, code: outcome.code },
            'downstream answer broken off',
          );
          return;
        case 'failed':
          logger.warn(
            {
              reqId: requestIdOf(request.raw),
              route: route.prefix,
              code: outcome.code,
              status: outcome.status,
            },
            'downstream call failed',
          );
          sendFailure(reply, outcome.status, outcome.body);
      }
    };

    const forward = (request: ProxiedRequest, reply: FastifyReply, firstAttempt: boolean): void => {
      downstream.forward(
        request,
        reply,
        request.user?.accessToken ?? '',
        firstAttempt && request.body === undefined,
        (outcome) => {
          if (firstAttempt && outcome.kind === 'relayed' && reply.statusCode === 401) void evict(request);
          settle(request, reply, outcome);
        },
      );
    };

    const evict = (request: ProxiedRequest): Promise<void> =>
      request.user
        ? auth.invalidate(request.user).catch((error: unknown) => {
            logger.warn({ reqId: requestIdOf(request.raw), err: error }, 'could not evict a refused token');
          })
        : Promise.resolve();

    const retry = (request: ProxiedRequest, reply: FastifyReply): void => {
      evict(request)
        .then(() => auth.reauthenticate(request.headers.authorization))
        .then(
          (fresh) => {
            request.user = fresh;
            forward(request, reply, false);
          },
          (error: unknown) => sendError(reply, error),
        )
        .catch((error: unknown) => sendError(reply, error));
    };

    const onResponse = (request: FastifyRequest, reply: FastifyReply, next: () => void): void => {
      observe?.(route.prefix, request.method, reply.statusCode, reply.elapsedTime / 1000);
      next();
    };
    const handler = (request: FastifyRequest, reply: FastifyReply): void => forward(request, reply, true);
    instance.all(route.prefix, { onResponse }, handler);
    instance.all(`${route.prefix}/*`, { onResponse }, handler);
  }
  done();
};
