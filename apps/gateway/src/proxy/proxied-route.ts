import { V3UnauthorizedException, type V3Principal } from 'nestjs-v3-token-auth';
import type { GatewayRoute } from '../config/gateway.config.js';
import type { CallTrace, ProxyTracing } from '../tracing/proxy-tracing.js';
import { answerError, type ProxyLogger } from './answer-error.js';
import { watchBodyIdle } from './body-idle-watch.js';
import { Downstream, type ForwardOutcome } from './downstream.js';
import type { EdgeRefusalReason } from './edge-refusal.js';
import type { ProxyExchange } from './proxy-exchange.js';
import type { CookiePolicy } from './proxy-headers.js';
import { RouteAdmission, type AdmissionRefusal } from './route-admission.js';
import { RoutePolicy } from './route-policy.js';

/** How the proxy authenticates callers. The gateway backs it with `V3TokenAuthGuard` and `V3TokenService`. */
export interface ProxyAuthenticator {
  /**
   * Authenticates the request and sets `exchange.user` to its principal: `true` when that happened synchronously
   * (a warm cache hit), else a promise. Throws or rejects with a `V3TokenException`. `callerAddress` is the caller
   * as `GATEWAY_TRUSTED_PROXIES` defines it, for the wrong-secret throttle. `policy` is the route's: the identity
   * to grant for and the scopes the token must carry (403 `insufficient_scope`).
   */
  authenticate(
    exchange: ProxyExchange,
    callerAddress: string,
    policy: RoutePolicy,
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

/** What every route of the data plane shares. */
export interface ProxiedRouteContext {
  auth: ProxyAuthenticator;
  logger: ProxyLogger;
  tracing: ProxyTracing;
  /** Headers (and idle body) timeout of a call for routes without their own `timeoutMs`, ms. */
  upstreamTimeoutMs: number;
  /** Keep-alive connections per downstream origin, at most. */
  connections: number;
  /** How long a request waits for a free downstream connection before 503, ms. */
  queueTimeoutMs: number;
  /** Requests one caller address may have in flight per route; 0 is no cap. */
  maxInflightPerClient: number;
  /** A request body that sends nothing for this long is answered 408, ms. */
  bodyIdleTimeoutMs: number;
  cookies: CookiePolicy | undefined;
  observe?(route: string, method: string, status: number, seconds: number): void;
  refused?(reason: EdgeRefusalReason, callerAddress: string): void;
}

/**
 * One route of the data plane, after the edge admitted the request's method and target: authenticates and
 * authorizes the caller (public routes skip it), admits the request to the route's downstream pool (per-caller cap,
 * queue timeout), streams it there and its answer back. A downstream 401 evicts the relayed token everywhere and
 * opens the re-grant window of the caller's credentials (`ProxyAuthenticator.refused`): one re-grant in it — a retry
 * at once when the request has no body to replay, else the next request's grant — and after that the 401 goes to
 * the caller.
 */
export class ProxiedRoute {
  readonly prefix: string;
  private readonly policy: RoutePolicy;
  private readonly downstream: Downstream;
  private readonly admission: RouteAdmission;
  private readonly targetUrl: URL;
  private readonly queueFull: string;
  private readonly capReached: string;
  /** A relayed 401: the token is evicted and the window opened before the caller reads the answer. */
  private readonly onRefused: ((exchange: ProxyExchange) => void) | undefined;

  constructor(
    route: GatewayRoute,
    private readonly context: ProxiedRouteContext,
  ) {
    this.prefix = route.prefix;
    this.policy = new RoutePolicy(route);
    this.targetUrl = new URL(route.target);
    const { connections, queueTimeoutMs, maxInflightPerClient } = context;
    this.downstream = new Downstream({
      prefix: route.prefix,
      target: route.target,
      timeoutMs: route.timeoutMs ?? context.upstreamTimeoutMs,
      connections,
      cookies: context.cookies,
    });
    this.admission = new RouteAdmission({
      capacity: connections,
      queueTimeoutMs,
      maxPerClient: maxInflightPerClient,
    });
    this.queueFull = `No connection to the downstream service of ${route.prefix} came free within ${queueTimeoutMs} ms; retry shortly`;
    this.capReached = `This caller already has ${maxInflightPerClient} requests in flight on ${route.prefix}; retry when one has finished`;
    this.onRefused = this.policy.public ? undefined : (exchange) => void this.refusedDownstream(exchange);
  }

  /** Counts `exchange` as the route's from now on: its answer is observed (metrics) when sent, whoever sends it. */
  track(exchange: ProxyExchange): void {
    exchange.onEnd(() => this.closed(exchange));
  }

  /** Serves `exchange`, whose `forwarding` the edge has set. */
  serve(exchange: ProxyExchange): void {
    const { tracing } = this.context;
    const requestTrace = tracing.enabled ? this.traceRequest(exchange) : undefined;
    if (this.policy.public) {
      this.admit(exchange);
      return;
    }
    const { auth } = this.context;
    const { callerAddress } = exchange.forwarding!;
    let outcome: boolean | Promise<boolean>;
    try {
      outcome = requestTrace
        ? tracing.within(requestTrace, () => auth.authenticate(exchange, callerAddress, this.policy))
        : auth.authenticate(exchange, callerAddress, this.policy);
    } catch (error) {
      answerError(exchange, error, this.context.logger);
      return;
    }
    if (outcome === true) this.admit(exchange);
    else if (outcome === false) this.unauthenticated(exchange);
    else
      outcome
        .then((allowed) => (allowed ? this.admit(exchange) : this.unauthenticated(exchange)))
        .catch((error: unknown) => answerError(exchange, error, this.context.logger));
  }

  /** Closes the downstream's connections once their calls end. */
  close(): Promise<void> {
    return this.downstream.close();
  }

  private unauthenticated(exchange: ProxyExchange): void {
    answerError(exchange, new V3UnauthorizedException('Authentication failed'), this.context.logger);
  }

  /** The answer is sent or the caller left: report it, and end a body the answer did not wait for. */
  private closed(exchange: ProxyExchange): void {
    const { raw, response } = exchange;
    if (!response.writableFinished) {
      exchange.forwarding?.cancel.abort();
      return;
    }
    this.context.observe?.(this.prefix, exchange.method, response.statusCode, exchange.elapsedSeconds());
    // Answered before its body ended (401, 413, 429 …): half-close, so that no request timeout later writes a
    // second answer (a 408) on this connection; the caller reads the answer, then the end of the connection.
    if (!raw.complete) exchange.socket.end();
  }

  private admit(exchange: ProxyExchange): void {
    const { response } = exchange;
    if (response.destroyed) return;
    const { callerAddress, cancel } = exchange.forwarding!;
    const end = this.admission.admit(
      callerAddress,
      () => {
        if (response.destroyed) return;
        if (exchange.hasBody) {
          exchange.continueBody();
          watchBodyIdle(exchange, cancel, this.context.bodyIdleTimeoutMs, this.context.refused);
        }
        this.forward(exchange, true);
      },
      (reason) => this.refuse(exchange, reason, callerAddress),
    );
    exchange.onEnd(end);
  }

  private refuse(exchange: ProxyExchange, reason: AdmissionRefusal, callerAddress: string): void {
    if (!exchange.answerable) return;
    const { refused } = this.context;
    if (reason === 'client-cap') {
      refused?.('client_cap', callerAddress);
      exchange.refuse(429, this.capReached, { 'retry-after': '1' });
    } else {
      refused?.('queue_timeout', callerAddress);
      exchange.refuse(503, this.queueFull, { 'retry-after': '1' });
    }
  }

  private forward(exchange: ProxyExchange, firstAttempt: boolean): void {
    const { tracing } = this.context;
    const policy = this.policy;
    const call = exchange.trace
      ? tracing.startCall(exchange.trace, exchange.method, this.targetUrl)
      : undefined;
    this.downstream.forward(
      exchange,
      exchange.forwarding!,
      policy.public ? undefined : (exchange.user?.accessToken ?? ''),
      firstAttempt && !policy.public && !exchange.hasBody,
      call?.headers,
      (outcome) => {
        if (call) this.endCallTrace(call, outcome, exchange);
        this.settle(exchange, outcome);
      },
      this.onRefused,
    );
  }

  private settle(exchange: ProxyExchange, outcome: ForwardOutcome): void {
    const { logger } = this.context;
    switch (outcome.kind) {
      case 'relayed':
      case 'cancelled':
        return;
      case 'unauthorized':
        this.retry(exchange);
        return;
      case 'broken':
        logger.warn(
          { reqId: exchange.requestId, route: this.prefix, code: outcome.code },
          'downstream answer broken off',
        );
        return;
      case 'failed':
        logger.warn(
          {
            reqId: exchange.requestId,
            route: this.prefix,
            code: outcome.code,
            status: outcome.status,
          },
          'downstream call failed',
        );
        exchange.answer(outcome.status, outcome.body, undefined, true);
    }
  }

  private refusedDownstream(exchange: ProxyExchange): Promise<void> {
    const user = exchange.user;
    if (user === undefined) return Promise.resolve();
    return this.context.auth
      .refused(user.accessToken, exchange.headers.authorization, this.policy)
      .catch((error: unknown) => {
        this.context.logger.warn(
          { reqId: exchange.requestId, err: error },
          'could not evict a refused token',
        );
      });
  }

  private retry(exchange: ProxyExchange): void {
    const { auth, logger } = this.context;
    this.refusedDownstream(exchange)
      .then(() =>
        auth.reauthenticate(exchange.headers.authorization, exchange.forwarding?.callerAddress, this.policy),
      )
      .then((fresh) => {
        exchange.user = fresh;
        this.forward(exchange, false);
      })
      .catch((error: unknown) => answerError(exchange, error, logger));
  }

  /** Starts the request's span, ended when its answer is sent or the caller leaves. */
  private traceRequest(exchange: ProxyExchange): ProxyExchange['trace'] {
    const { tracing } = this.context;
    const requestTrace = tracing.startRequest(exchange.method, this.prefix, exchange.headers);
    if (requestTrace === undefined) return undefined;
    exchange.trace = requestTrace;
    const response = exchange.response;
    exchange.onEnd(() => tracing.endRequest(requestTrace, response.statusCode, response.writableFinished));
    return requestTrace;
  }

  /** The downstream call's status, or why there was none, for its span. */
  private endCallTrace(call: CallTrace, outcome: ForwardOutcome, exchange: ProxyExchange): void {
    const { tracing } = this.context;
    const status = exchange.response.statusCode;
    if (outcome.kind === 'relayed') tracing.endCall(call, status);
    else if (outcome.kind === 'unauthorized') tracing.endCall(call, 401);
    else if (outcome.kind === 'failed') tracing.endCall(call, undefined, outcome.code);
    else if (outcome.kind === 'broken') tracing.endCall(call, status, outcome.code);
    else tracing.endCall(call, undefined, 'cancelled');
  }
}
