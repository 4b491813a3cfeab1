import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { V3TokenException, V3UnauthorizedException, type V3Principal } from 'nestjs-v3-token-auth';
import type { GatewayRoute } from '../config/gateway.config.js';
import { toErrorReply } from '../errors/error-reply.js';
import { skipAccessLog } from '../logging/access-log.js';
import { requestIdOf } from '../logging/request-id.js';
import { CallCancellation } from './call-cancellation.js';
import { TrustedProxies } from './caller-address.js';
import { Downstream, type ForwardOutcome, type Forwarding } from './downstream.js';
import { forwardPathOf } from './forward-path.js';
import type { CookiePolicy } from './proxy-headers.js';
import { RouteAdmission, type AdmissionRefusal } from './route-admission.js';

/** How the proxy authenticates callers. The gateway backs it with `V3TokenAuthGuard` and `V3TokenService`. */
export interface ProxyAuthenticator {
  /**
   * Authenticates the request and sets `request.user` to its principal: `true` when that happened synchronously
   * (a warm cache hit), else a promise. Throws or rejects with a `V3TokenException`. `callerAddress` is the caller
   * as `GATEWAY_TRUSTED_PROXIES` defines it, for the wrong-secret throttle.
   */
  authenticate(
    request: FastifyRequest,
    reply: FastifyReply,
    callerAddress?: () => string,
  ): boolean | Promise<boolean>;
  /** The downstream refused `principal`'s token: evict it (only while the cache still holds that token). */
  invalidate(principal: V3Principal): Promise<void>;
  /** Authenticates the same `Authorization` header again, after `invalidate`, for the caller at `callerAddress`. */
  reauthenticate(authorization: string | string[] | undefined, callerAddress?: string): Promise<V3Principal>;
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
  /** How long a request waits for a free downstream connection before 503 + `Retry-After`, ms. @default 2000 */
  queueTimeoutMs?: number;
  /** Requests one caller address may have in flight per route (429 + `Retry-After` beyond); 0 is no cap. @default 0 */
  maxInflightPerClient?: number;
  /** A request body that sends nothing for this long is answered 408 and its downstream call cancelled, ms. @default 10000 */
  bodyIdleTimeoutMs?: number;
  /** Whose forwarding headers are believed, and so what the caller address is. @default TrustedProxies.NONE */
  trustedProxies?: TrustedProxies;
  /** `strip` keeps `Cookie` and `Set-Cookie` off proxied routes; `forward` passes them. @default 'forward' */
  cookies?: CookiePolicy;
  logger: ProxyLogger;
  /** Called once per proxied request when its response has been sent. */
  observe?(route: string, method: string, status: number, seconds: number): void;
}

interface ProxiedRequest extends FastifyRequest {
  user?: V3Principal;
  forwarding?: Forwarding | null;
}

/** Methods no route proxies: `TRACE` reflects credentials back (XST), `CONNECT` opens a tunnel. */
const REFUSED_METHODS = new Set(['TRACE', 'CONNECT']);

/** The gateway's own error answer on a proxied route: plain JSON, never an OAuth body. */
function sendPlainError(
  reply: FastifyReply,
  status: number,
  message: string,
  headers?: Record<string, string>,
): void {
  if (headers) void reply.headers(headers);
  void reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
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
  const trustedProxies = options.trustedProxies ?? TrustedProxies.NONE;
  const bodyIdleTimeoutMs = options.bodyIdleTimeoutMs ?? 10_000;
  const queueTimeoutMs = options.queueTimeoutMs ?? 2_000;
  const maxPerClient = options.maxInflightPerClient ?? 0;
  instance.decorateRequest('forwarding', null);

  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', (_request, payload, parsed) => parsed(null, payload));
  const connections = options.connections ?? 128;

  instance.addHook('onRequest', (request, reply, next) => {
    skipAccessLog(request);
    let outcome: boolean | Promise<boolean>;
    try {
      outcome = auth.authenticate(request, reply, () =>
        trustedProxies.callerAddress(request.raw.socket.remoteAddress, request.headers['x-forwarded-for']),
      );
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
      cookies: options.cookies,
    });
    downstreams.push(downstream);
    const admission = new RouteAdmission({ capacity: connections, queueTimeoutMs, maxPerClient });
    const queueFull = `No connection to the downstream service of ${route.prefix} came free within ${queueTimeoutMs} ms; retry shortly`;
    const capReached = `This caller already has ${maxPerClient} requests in flight on ${route.prefix}; retry when one has finished`;
    const refuse = (reply: FastifyReply, reason: AdmissionRefusal): void => {
      if (reply.sent || reply.raw.destroyed) return;
      if (reason === 'client-cap') sendPlainError(reply, 429, capReached, { 'retry-after': '1' });
      else sendPlainError(reply, 503, queueFull, { 'retry-after': '1' });
    };

    const settle = (request: ProxiedRequest, reply: FastifyReply, outcome: ForwardOutcome): void => {
      switch (outcome.kind) {
        case 'relayed':
        case 'cancelled':
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
        request.forwarding!,
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
        .then(() => auth.reauthenticate(request.headers.authorization, request.forwarding?.callerAddress))
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
    const watchBody = (request: ProxiedRequest, reply: FastifyReply, cancel: CallCancellation): void => {
      const raw = request.raw;
      raw.setTimeout(bodyIdleTimeoutMs, () => {
        cancel.abort();
        if (reply.sent || reply.raw.headersSent) {
          raw.destroy();
          return;
        }
        void reply.header('connection', 'close');
        sendPlainError(reply, 408, `The request body sent nothing for ${bodyIdleTimeoutMs} ms`);
      });
      raw.once('end', () => raw.setTimeout(0));
    };

    const handler = (request: ProxiedRequest, reply: FastifyReply): void => {
      if (REFUSED_METHODS.has(request.method)) {
        sendPlainError(reply, 405, `${request.method} is not allowed on proxied routes`, {
          allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
        });
        return;
      }
      const path = forwardPathOf(request.url, route.prefix, request.headers.host);
      if (typeof path !== 'string') {
        sendPlainError(reply, 400, path.refused);
        return;
      }
      const peer = request.raw.socket.remoteAddress;
      const fromTrustedProxy = trustedProxies.isTrusted(peer);
      const callerAddress = trustedProxies.callerAddress(peer, request.headers['x-forwarded-for']);
      // Not an AbortController: on the warm path that cost more CPU than the rest of the proxy (see CallCancellation).
      const cancel = new CallCancellation();
      request.forwarding = { path, callerAddress, fromTrustedProxy, cancel };
      const response = reply.raw;
      const end = admission.admit(
        callerAddress,
        () => {
          if (response.destroyed) return;
          if (request.body !== undefined) watchBody(request, reply, cancel);
          forward(request, reply, true);
        },
        (reason) => refuse(reply, reason),
      );
      response.once('close', () => {
        end();
        if (!response.writableFinished) cancel.abort();
      });
    };
    instance.all(route.prefix, { onResponse }, handler);
    instance.all(`${route.prefix}/*`, { onResponse }, handler);
  }
  done();
};
