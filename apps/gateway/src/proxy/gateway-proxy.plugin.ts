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
import type { EdgeRefusalReason } from './edge-refusal.js';
import { forwardPathOf } from './forward-path.js';
import type { CookiePolicy } from './proxy-headers.js';
import { RouteAdmission, type AdmissionRefusal } from './route-admission.js';
import { RoutePolicy } from './route-policy.js';
import { ProxyTracing, type CallTrace, type RequestTrace } from '../tracing/proxy-tracing.js';

/** How the proxy authenticates callers. The gateway backs it with `V3TokenAuthGuard` and `V3TokenService`. */
export interface ProxyAuthenticator {
  /**
   * Authenticates the request and sets `request.user` to its principal: `true` when that happened synchronously
   * (a warm cache hit), else a promise. Throws or rejects with a `V3TokenException`. `callerAddress` is the caller
   * as `GATEWAY_TRUSTED_PROXIES` defines it, for the wrong-secret throttle. `policy` is the route's: the identity
   * to grant for and the scopes the token must carry (403 `insufficient_scope`).
   */
  authenticate(
    request: FastifyRequest,
    reply: FastifyReply,
    callerAddress?: () => string,
    policy?: RoutePolicy,
  ): boolean | Promise<boolean>;
  /**
   * The downstream refused `accessToken`, relayed for `authorization` on a route of `policy`: evict it from every tier
   * on every instance, for good, and open the re-grant window of those credentials (`V3TokenService.refused`).
   */
  refused(
    accessToken: string,
    authorization: string | string[] | undefined,
    policy?: RoutePolicy,
  ): Promise<void>;
  /** Authenticates the same `Authorization` header again, after `refused`, for the caller at `callerAddress`. */
  reauthenticate(
    authorization: string | string[] | undefined,
    callerAddress?: string,
    policy?: RoutePolicy,
  ): Promise<V3Principal>;
}

/** Where the proxy reports failures: a pino-compatible logger. */
export interface ProxyLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface GatewayProxyOptions {
  routes: readonly GatewayRoute[];
  /** Headers (and idle body) timeout of one downstream call, ms, for routes without their own `timeoutMs`; 504 when it fires before the headers. */
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
  /** Spans of proxied requests and their downstream calls. @default a `ProxyTracing` of the registered SDK, if any */
  tracing?: ProxyTracing;
  /**
   * Called once per request the edge answers itself (400 path, 405 method, 429 cap, 503 queue, 408 idle body),
   * with the caller address; never with a path or a credential.
   */
  refused?(reason: EdgeRefusalReason, callerAddress: string): void;
}

/** The route options of a proxied route: its prefix, read by the edge hook before authentication. */
interface ProxiedRouteConfig {
  proxiedPrefix?: string;
}

interface ProxiedRequest extends FastifyRequest {
  user?: V3Principal;
  forwarding?: Forwarding | null;
  /** The request's span, while tracing is on. */
  trace?: RequestTrace | null;
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
 * hop-by-hop headers. A downstream 401 evicts the relayed token everywhere and opens the re-grant window of the
 * caller's credentials (`ProxyAuthenticator.refused`): one re-grant in it — a retry at once when the request has no
 * body to replay, else the next request's grant — and after that the 401 goes to the caller.
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
  const tracing = options.tracing ?? new ProxyTracing();
  const refused = options.refused;
  instance.decorateRequest('forwarding', null);
  if (tracing.enabled) instance.decorateRequest('trace', null);

  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', (_request, payload, parsed) => parsed(null, payload));
  const connections = options.connections ?? 128;

  // The edge refuses bad methods and targets before authentication: a refused request costs no grant.
  instance.addHook('onRequest', (request: ProxiedRequest, reply, next) => {
    skipAccessLog(request);
    const prefix = (request.routeOptions.config as ProxiedRouteConfig | undefined)?.proxiedPrefix;
    if (prefix === undefined) {
      next();
      return;
    }
    const peer = request.raw.socket.remoteAddress;
    const callerAddress = trustedProxies.callerAddressOf(peer, request.headers);
    if (REFUSED_METHODS.has(request.method)) {
      refused?.('method', callerAddress);
      sendPlainError(reply, 405, `${request.method} is not allowed on proxied routes`, {
        allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
      });
      return;
    }
    const path = forwardPathOf(request.url, prefix, request.headers.host);
    if (typeof path !== 'string') {
      refused?.('bad_path', callerAddress);
      sendPlainError(reply, 400, path.refused);
      return;
    }
    const fromTrustedProxy = trustedProxies.isTrusted(peer);
    // Not an AbortController: on the warm path that cost more CPU than the rest of the proxy (see CallCancellation).
    request.forwarding = { path, callerAddress, fromTrustedProxy, cancel: new CallCancellation() };
    next();
  });

  /** The route's `onRequest` hook, after the edge's: authenticates and authorizes the caller (public routes skip it). */
  const authorizeFor =
    (policy: RoutePolicy, prefix: string) =>
    (request: ProxiedRequest, reply: FastifyReply, next: (error?: Error) => void): void => {
      const requestTrace = tracing.enabled ? traceRequest(request, reply, prefix) : undefined;
      if (policy.public) {
        next();
        return;
      }
      const callerAddress = () => request.forwarding?.callerAddress ?? '';
      let outcome: boolean | Promise<boolean>;
      try {
        outcome = requestTrace
          ? tracing.within(requestTrace, () => auth.authenticate(request, reply, callerAddress, policy))
          : auth.authenticate(request, reply, callerAddress, policy);
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
    };

  /** Starts the request's span, ended when its answer is sent or the caller leaves. */
  const traceRequest = (
    request: ProxiedRequest,
    reply: FastifyReply,
    prefix: string,
  ): RequestTrace | undefined => {
    const requestTrace = tracing.startRequest(request.method, prefix, request.headers);
    if (requestTrace === undefined) return undefined;
    request.trace = requestTrace;
    const response = reply.raw;
    response.once('close', () =>
      tracing.endRequest(requestTrace, response.statusCode, response.writableFinished),
    );
    return requestTrace;
  };

  /** The downstream call's status, or why there was none, for its span. */
  const endCallTrace = (call: CallTrace, outcome: ForwardOutcome, reply: FastifyReply): void => {
    if (outcome.kind === 'relayed') tracing.endCall(call, reply.raw.statusCode);
    else if (outcome.kind === 'unauthorized') tracing.endCall(call, 401);
    else if (outcome.kind === 'failed') tracing.endCall(call, undefined, outcome.code);
    else if (outcome.kind === 'broken') tracing.endCall(call, reply.raw.statusCode, outcome.code);
    else tracing.endCall(call, undefined, 'cancelled');
  };

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

  /**
   * Answers 408 (and cancels the downstream call) when the request body of an admitted request sends nothing for
   * `bodyIdleTimeoutMs`. The watch ends with the body or with the answer, whichever comes first: an answer sent
   * before the body ended (a downstream's early 413 …) leaves no timer behind and cancels the downstream call,
   * which would otherwise wait for the rest of the body.
   */
  const watchBody = (request: ProxiedRequest, reply: FastifyReply, cancel: CallCancellation): void => {
    const raw = request.raw;
    const response = reply.raw;
    const onIdle = (): void => {
      stop();
      cancel.abort();
      if (reply.sent || response.headersSent) {
        raw.destroy();
        return;
      }
      refused?.('body_idle_timeout', request.forwarding?.callerAddress ?? '');
      void reply.header('connection', 'close');
      sendPlainError(reply, 408, `The request body sent nothing for ${bodyIdleTimeoutMs} ms`);
    };
    const onBodyEnd = (): void => {
      stop();
      raw.setTimeout(0);
    };
    const onAnswered = (): void => {
      stop();
      if (!raw.complete) cancel.abort();
    };
    const stop = (): void => {
      raw.off('timeout', onIdle);
      raw.off('end', onBodyEnd);
      response.off('finish', onAnswered);
    };
    raw.setTimeout(bodyIdleTimeoutMs, onIdle);
    raw.once('end', onBodyEnd);
    response.once('finish', onAnswered);
  };

  const downstreams: Downstream[] = [];
  instance.addHook('onClose', (_instance, closed) => {
    Promise.all(downstreams.map((downstream) => downstream.close())).then(() => closed(), closed);
  });

  for (const route of options.routes) {
    const policy = new RoutePolicy(route);
    const targetUrl = new URL(route.target);
    const downstream = new Downstream({
      prefix: route.prefix,
      target: route.target,
      timeoutMs: route.timeoutMs ?? upstreamTimeoutMs,
      connections,
      cookies: options.cookies,
    });
    downstreams.push(downstream);
    const admission = new RouteAdmission({ capacity: connections, queueTimeoutMs, maxPerClient });
    const queueFull = `No connection to the downstream service of ${route.prefix} came free within ${queueTimeoutMs} ms; retry shortly`;
    const capReached = `This caller already has ${maxPerClient} requests in flight on ${route.prefix}; retry when one has finished`;
    const refuse = (reply: FastifyReply, reason: AdmissionRefusal, callerAddress: string): void => {
      if (reply.sent || reply.raw.destroyed) return;
      if (reason === 'client-cap') {
        refused?.('client_cap', callerAddress);
        sendPlainError(reply, 429, capReached, { 'retry-after': '1' });
      } else {
        refused?.('queue_timeout', callerAddress);
        sendPlainError(reply, 503, queueFull, { 'retry-after': '1' });
      }
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
      const call = request.trace ? tracing.startCall(request.trace, request.method, targetUrl) : undefined;
      downstream.forward(
        request,
        reply,
        request.forwarding!,
        policy.public ? undefined : (request.user?.accessToken ?? ''),
        firstAttempt && !policy.public && request.body === undefined,
        call?.headers,
        (outcome) => {
          if (call) endCallTrace(call, outcome, reply);
          settle(request, reply, outcome);
        },
        onRefused,
      );
    };

    const refusedDownstream = (request: ProxiedRequest): Promise<void> =>
      request.user
        ? auth
            .refused(request.user.accessToken, request.headers.authorization, policy)
            .catch((error: unknown) => {
              logger.warn({ reqId: requestIdOf(request.raw), err: error }, 'could not evict a refused token');
            })
        : Promise.resolve();

    /** A relayed 401: the token is evicted and the window opened before the caller reads the answer. */
    const onRefused = policy.public
      ? undefined
      : (request: FastifyRequest): void => void refusedDownstream(request);

    const retry = (request: ProxiedRequest, reply: FastifyReply): void => {
      refusedDownstream(request)
        .then(() =>
          auth.reauthenticate(request.headers.authorization, request.forwarding?.callerAddress, policy),
        )
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
      // Answered before its body ended (401, 413, 429 …): half-close, so that no request timeout later writes a
      // second answer (a 408) on this connection; the caller reads the answer, then the end of the connection.
      if (!request.raw.complete) request.raw.socket?.end();
      next();
    };
    const handler = (request: ProxiedRequest, reply: FastifyReply): void => {
      const forwarding = request.forwarding!;
      const { callerAddress, cancel } = forwarding;
      const response = reply.raw;
      const end = admission.admit(
        callerAddress,
        () => {
          if (response.destroyed) return;
          if (request.body !== undefined) watchBody(request, reply, cancel);
          forward(request, reply, true);
        },
        (reason) => refuse(reply, reason, callerAddress),
      );
      response.once('close', () => {
        end();
        if (!response.writableFinished) cancel.abort();
      });
    };
    const onRequest = authorizeFor(policy, route.prefix);
    const config: ProxiedRouteConfig = { proxiedPrefix: route.prefix };
    instance.all(route.prefix, { onRequest, onResponse, config }, handler);
    instance.all(`${route.prefix}/*`, { onRequest, onResponse, config }, handler);
  }
  done();
};
