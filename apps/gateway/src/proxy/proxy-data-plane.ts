import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayRoute } from '../config/gateway.config.js';
import { REQUEST_ID_HEADER } from '../logging/request-id.js';
import { ProxyTracing } from '../tracing/proxy-tracing.js';
import { CallCancellation } from './call-cancellation.js';
import { TrustedProxies } from './caller-address.js';
import type { EdgeRefusalReason } from './edge-refusal.js';
import { absoluteFormOf, forwardPathOf } from './forward-path.js';
import { answerError, type ProxyLogger } from './answer-error.js';
import { ProxiedRoute, type ProxyAuthenticator } from './proxied-route.js';
import { ProxyExchange } from './proxy-exchange.js';
import { headProblemOf } from './request-head.js';
import { QueuedExchanges } from './queued-exchanges.js';
import type { CookiePolicy } from './proxy-headers.js';
import { RoutePrefixes } from './route-prefixes.js';

/** What the data plane serves, and how. */
export interface ProxyDataPlaneOptions {
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

/** Methods no route proxies: `TRACE` reflects credentials back (XST), `CONNECT` opens a tunnel. */
const REFUSED_METHODS = new Set(['TRACE', 'CONNECT']);
/** Methods without a body: anything they send after their head is not relayed. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD']);
/** Every method a route relays. */
const PROXIED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'QUERY']);
const CLOSE = { connection: 'close' };
const ALLOWED = { allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, QUERY' };
const DRAINING = {
  statusCode: 503,
  error: 'Service Unavailable',
  message: 'This gateway instance is shutting down; retry the request',
};

/** Whether `request` has a body to relay: `Transfer-Encoding`, or a `Content-Length` other than 0. */
function hasBody(request: IncomingMessage): boolean {
  if (BODYLESS_METHODS.has(request.method!)) return false;
  const { headers } = request;
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** The path (and query) of an origin-form or `http(s)` absolute-form target; undefined for anything else. */
function pathOfTarget(url: string): string | undefined {
  return url.charCodeAt(0) === 0x2f /* / */ ? url : absoluteFormOf(url)?.path;
}

/**
 * The gateway's data plane: a `node:http` request listener in front of the app's router that serves every request
 * whose target lies under a route prefix itself (the longest prefix wins) and hands everything else — `/token`,
 * `/revoke`, the admin paths, unknown paths — to Fastify. Before authentication, its edge refuses `TRACE`/`CONNECT`
 * and other unproxied methods (405), targets that leave their route, read as another route's or hide a separator
 * (400, `forwardPathOf`), and heads `headProblemOf` refuses (a missing, repeated or malformed `Host`: 400; a
 * transfer coding other than chunked: 501; HTTP other than 1.0 and 1.1: 505; the connection closed after each),
 * so a refused request costs no grant;
 * while the instance drains, it answers 503 and closes the connection. No request on a route goes through
 * Fastify's router, hooks or reply, which cost the warm path about 5 % of its CPU per request (`bench/FINDINGS.md`).
 */
export class ProxyDataPlane {
  private readonly prefixes: RoutePrefixes;
  private readonly routes: Map<string, ProxiedRoute>;
  private readonly trustedProxies: TrustedProxies;
  private readonly logger: ProxyLogger;
  private readonly refused: ProxyDataPlaneOptions['refused'];
  private readonly queued = new QueuedExchanges();
  private draining = false;

  constructor(options: ProxyDataPlaneOptions) {
    this.trustedProxies = options.trustedProxies ?? TrustedProxies.NONE;
    this.logger = options.logger;
    this.refused = options.refused;
    const context = {
      auth: options.auth,
      logger: options.logger,
      tracing: options.tracing ?? new ProxyTracing(),
      upstreamTimeoutMs: options.upstreamTimeoutMs,
      connections: options.connections ?? 128,
      queueTimeoutMs: options.queueTimeoutMs ?? 2_000,
      maxInflightPerClient: options.maxInflightPerClient ?? 0,
      bodyIdleTimeoutMs: options.bodyIdleTimeoutMs ?? 10_000,
      cookies: options.cookies,
      observe: options.observe,
      refused: options.refused,
    };
    this.prefixes = new RoutePrefixes(options.routes.map((route) => route.prefix));
    this.routes = new Map(options.routes.map((route) => [route.prefix, new ProxiedRoute(route, context)]));
  }

  /**
   * Serves `request` when its target lies under a route prefix, and says so; false leaves it to the router.
   * `awaitsContinue`: the caller sent `Expect: 100-continue` (node:http's `checkContinue`), and gets its `100 Continue`
   * only once authenticated and admitted.
   */
  serve(request: IncomingMessage, response: ServerResponse, awaitsContinue = false): boolean {
    const url = request.url!;
    const route = this.routeOf(url);
    if (route === undefined) return false;
    const exchange = new ProxyExchange(request, response, hasBody(request), awaitsContinue);
    response.setHeader(REQUEST_ID_HEADER, exchange.requestId);
    if (this.draining) {
      exchange.answer(503, DRAINING, { connection: 'close' });
      return true;
    }
    route.track(exchange);
    this.queued.watch(exchange);
    try {
      this.admit(exchange, route, url);
    } catch (error) {
      answerError(exchange, error, this.logger);
    }
    return true;
  }

  /** From now on every proxied request is answered 503 with `Connection: close` (the instance is shutting down). */
  drain(): void {
    this.draining = true;
  }

  /** Closes every downstream's connections once their calls end. */
  async close(): Promise<void> {
    await Promise.all([...this.routes.values()].map((route) => route.close()));
  }

  private routeOf(url: string): ProxiedRoute | undefined {
    const path = pathOfTarget(url);
    const prefix = path === undefined ? undefined : this.prefixes.of(path);
    return prefix === undefined ? undefined : this.routes.get(prefix);
  }

  /** The edge: refuses bad methods, hosts and targets before authentication, then hands the request to its route. */
  private admit(exchange: ProxyExchange, route: ProxiedRoute, url: string): void {
    const { raw } = exchange;
    const peer = raw.socket.remoteAddress;
    const callerAddress = this.trustedProxies.callerAddressOf(peer, raw.headers);
    const method = exchange.method;
    if (!PROXIED_METHODS.has(method)) {
      this.refused?.('method', callerAddress);
      const why = REFUSED_METHODS.has(method) ? 'is not allowed' : 'is not relayed';
      exchange.refuse(405, `${method} ${why} on proxied routes`, ALLOWED);
      return;
    }
    const headProblem = headProblemOf(raw);
    if (headProblem !== undefined) {
      this.refused?.(headProblem.reason, callerAddress);
      exchange.refuse(headProblem.status, headProblem.message, CLOSE);
      return;
    }
    const path = forwardPathOf(url, route.prefix, raw.headers.host, this.prefixes);
    if (typeof path !== 'string') {
      this.refused?.('bad_path', callerAddress);
      exchange.refuse(400, path.refused);
      return;
    }
    const fromTrustedProxy = this.trustedProxies.isTrusted(peer);
    // Not an AbortController: on the warm path that cost more CPU than the rest of the proxy (see CallCancellation).
    exchange.forwarding = { path, callerAddress, fromTrustedProxy, cancel: new CallCancellation() };
    route.serve(exchange);
  }
}
