import replyFrom, { type FastifyReplyFromHooks } from '@fastify/reply-from';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { V3TokenException, V3UnauthorizedException, type V3Principal } from 'nestjs-v3-token-auth';
import type { GatewayRoute } from '../config/gateway.config.js';
import { toErrorReply } from '../errors/error-reply.js';
import { requestIdOf } from '../logging/request-id.js';
import { dropHopByHop, toDownstreamHeaders } from './proxy-headers.js';

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

/** reply-from hands its hooks requests and replies typed for any server; the gateway's are HTTP/1 ones. */
const proxied = (request: unknown): ProxiedRequest => request as ProxiedRequest;
const replyOf = (reply: unknown): FastifyReply => reply as FastifyReply;

/** What @fastify/reply-from hands `onResponse`: the downstream's status, headers and body stream. */
interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, unknown>;
  stream: NodeJS.ReadableStream;
}

const retried = new WeakSet<FastifyRequest>();
const noRetry = (): null => null;

/** Upstream failures that mean "no answer in time" (504); any other failure to get an answer is a 502. */
const TIMEOUT_CODES = new Set([
  'FST_REPLY_FROM_TIMEOUT',
  'FST_REPLY_FROM_GATEWAY_TIMEOUT',
  'FST_REPLY_FROM_HTTP_REQUEST_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function upstreamFailure(route: GatewayRoute, error: Error, timeoutMs: number) {
  const cause = (error as { cause?: unknown }).cause;
  const code = errorCode(cause) ?? errorCode(error) ?? 'UNKNOWN';
  const timedOut = TIMEOUT_CODES.has(code) || TIMEOUT_CODES.has(errorCode(error) ?? '');
  return timedOut
    ? {
        code,
        status: 504,
        body: {
          statusCode: 504,
          error: 'Gateway Timeout',
          message: `The downstream service of ${route.prefix} did not answer within ${timeoutMs} ms`,
        },
      }
    : {
        code,
        status: 502,
        body: {
          statusCode: 502,
          error: 'Bad Gateway',
          message: `The downstream service of ${route.prefix} is unreachable (${code})`,
        },
      };
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
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
 * The proxy: every route prefix is served by @fastify/reply-from behind the authenticator, with request bodies
 * left as streams (no content-type parser consumes them) and responses streamed back unchanged. A downstream 401
 * evicts the relayed token and, when the request has no body to replay, retries once with a fresh one.
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

  for (const route of options.routes) {
    // One keep-alive pool per downstream: reply-from with a `base` dispatches straight to its pool, a little cheaper
    // per request than one Agent that looks the origin up each time.
    const target = new URL(route.target);
    const basePath = target.pathname.replace(/\/+$/, '');
    const proxyRoute: FastifyPluginCallback = (scope, _options, next) => {
      void scope.register(replyFrom, {
        base: target.origin,
        undici: { connections, pipelining: 1 },
        disableRequestLogging: true,
      });
      const from: FastifyReplyFromHooks = {
        timeout: upstreamTimeoutMs,
        retryDelay: noRetry,
        rewriteRequestHeaders: (request, headers) =>
          toDownstreamHeaders(headers, proxied(request).user?.accessToken ?? '', {
            remoteAddress: request.raw.socket.remoteAddress,
            protocol: request.protocol,
            host: request.headers.host,
            requestId: requestIdOf(request.raw),
          }),
        rewriteHeaders: (headers) => dropHopByHop(headers),
        onResponse: (raw, reply, response) => {
          const upstream = response as unknown as UpstreamResponse;
          const request = proxied(raw);
          if (upstream.statusCode === 401 && !retried.has(request)) {
            retried.add(request);
            if (request.body === undefined) {
              retry(request, replyOf(reply), upstream);
              return;
            }
            void evict(request);
          }
          void reply.send(upstream.stream);
        },
        onError: (reply, { error }) => {
          const failure = upstreamFailure(route, error, upstreamTimeoutMs);
          logger.warn(
            {
              reqId: requestIdOf(reply.request.raw),
              route: route.prefix,
              code: failure.code,
              status: failure.status,
            },
            'downstream call failed',
          );
          void reply.code(failure.status).type('application/json; charset=utf-8').send(failure.body);
        },
      };

      const forward = (request: FastifyRequest, reply: FastifyReply): void => {
        void reply.from(basePath + pathOf(request.url), from);
      };

      const evict = (request: ProxiedRequest): Promise<void> =>
        request.user
          ? auth.invalidate(request.user).catch((error: unknown) => {
              logger.warn({ reqId: requestIdOf(request.raw), err: error }, 'could not evict a refused token');
            })
          : Promise.resolve();

      const retry = (request: ProxiedRequest, reply: FastifyReply, response: UpstreamResponse): void => {
        response.stream.resume();
        for (const name of Object.keys(response.headers)) reply.removeHeader(name);
        evict(request)
          .then(() => auth.reauthenticate(request.headers.authorization))
          .then(
            (fresh) => {
              request.user = fresh;
              forward(request, reply);
            },
            (error: unknown) => sendError(reply, error),
          )
          .catch((error: unknown) => sendError(reply, error));
      };

      const onResponse = (request: FastifyRequest, reply: FastifyReply, next: () => void): void => {
        observe?.(route.prefix, request.method, reply.statusCode, reply.elapsedTime / 1000);
        next();
      };

      scope.all(route.prefix, { onResponse }, forward);
      scope.all(`${route.prefix}/*`, { onResponse }, forward);
      next();
    };
    void instance.register(proxyRoute);
  }
  done();
};
