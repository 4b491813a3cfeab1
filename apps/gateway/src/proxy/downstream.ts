import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Writable } from 'node:stream';
import { Pool } from 'undici';
import type { CallCancellation } from './call-cancellation.js';
import { DownstreamRelay, type RelayTarget } from './downstream-relay.js';
import type { ProxyExchange } from './proxy-exchange.js';
import { setCallerHeaders, toDownstreamHeaders, type CookiePolicy } from './proxy-headers.js';

/** How one downstream is reached. */
export interface DownstreamOptions {
  /** The route prefix it serves, for error messages (`/v3`). */
  prefix: string;
  /** Its base URL; the path of it is prepended to every request's path. */
  target: string;
  /** Headers, idle body and connect timeout of one call, ms. */
  timeoutMs: number;
  /** Keep-alive connections to it, at most. */
  connections: number;
  /** `strip` keeps cookies out of both directions. @default 'forward' */
  cookies?: CookiePolicy;
}

/** Where one request goes and as whom, decided by the proxy before the call. */
export interface Forwarding {
  /** The origin-form path and query for the downstream, base path not yet prepended. */
  path: string;
  /** The caller address (`TrustedProxies.callerAddress`). */
  callerAddress: string;
  /** Whether the TCP peer is a trusted proxy. */
  fromTrustedProxy: boolean;
  /** Aborted when the caller leaves or its body stalls: the downstream call ends and frees its connection. */
  cancel: CallCancellation;
}

/** What became of one call to the downstream. */
export type ForwardOutcome =
  /** The answer was streamed to the caller (or the caller went away meanwhile). */
  | { kind: 'relayed' }
  /** The downstream answered 401 to a call that asked to see it (`onUnauthorized: 'report'`); nothing was sent. */
  | { kind: 'unauthorized' }
  /** No answer: nothing was sent to the caller yet. */
  | { kind: 'failed'; status: 502 | 504; code: string; body: DownstreamFailureBody }
  /** The call failed after the answer's head was sent; the caller's connection was closed. */
  | { kind: 'broken'; code: string }
  /** The proxy cancelled the call (the caller left, or its body stalled); whoever cancelled it answers. */
  | { kind: 'cancelled' };

export interface DownstreamFailureBody {
  statusCode: 502 | 504;
  error: 'Bad Gateway' | 'Gateway Timeout';
  message: string;
}

/** Errors that mean "no answer in time" (504); any other failure to get an answer is a 502. */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** One call to the downstream: where its answer goes (`RelayTarget`) and whom to tell how it ended. */
class Call implements RelayTarget {
  unauthorized = false;

  constructor(
    readonly downstream: Downstream,
    readonly cancel: CallCancellation,
    readonly exchange: ProxyExchange,
    readonly reportUnauthorized: boolean,
    readonly done: (outcome: ForwardOutcome) => void,
    readonly refused: ((exchange: ProxyExchange) => void) | undefined,
  ) {}

  /** Starts the caller's answer: the downstream's status and headers, beside the gateway's own (request id). */
  start(statusCode: number, headers: IncomingHttpHeaders): Writable {
    if (statusCode === 401) {
      if (this.reportUnauthorized) {
        this.unauthorized = true;
        return discardBody();
      }
      // Before the caller sees the 401: its next request finds the token gone and the re-grant window open.
      this.refused?.(this.exchange);
    }
    const response: ServerResponse = this.exchange.response;
    response.statusCode = statusCode;
    setCallerHeaders(response, headers, this.downstream.cookies);
    return response;
  }

  finish(error: Error | null): void {
    if (error === null) {
      this.done(this.unauthorized ? { kind: 'unauthorized' } : { kind: 'relayed' });
      return;
    }
    if (this.cancel.aborted) {
      this.done({ kind: 'cancelled' });
      return;
    }
    const code = errorCode(error);
    this.done(this.exchange.response.headersSent ? { kind: 'broken', code } : this.downstream.failure(code));
  }
}

const discardBody = (): Writable =>
  new Writable({
    write: (_chunk, _encoding, next) => next(),
  });

function errorCode(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error.name || 'UNKNOWN';
}

/**
 * One downstream service: a keep-alive pool of connections (undici) to its origin, and the streaming of a
 * caller's request to it and of its answer back, straight between the two sockets. The request body, when there
 * is one, is the caller's stream; the answer is written to the caller's response once the downstream's head
 * arrives (until then the gateway may still answer itself: 502, 504).
 */
export class Downstream {
  private readonly pool: Pool;
  private readonly basePath: string;
  /** The cookie policy of its answers. */
  readonly cookies: CookiePolicy;

  constructor(private readonly options: DownstreamOptions) {
    this.cookies = options.cookies ?? 'forward';
    const target = new URL(options.target);
    this.basePath = target.pathname.replace(/\/+$/, '');
    this.pool = new Pool(target.origin, {
      connections: options.connections,
      pipelining: 1,
      connect: { timeout: options.timeoutMs },
    });
  }

  /**
   * Sends `request` to the downstream with `Authorization: Bearer <accessToken>` (none without a token) and relays
   * the answer, then
   * calls `done` with what happened. With `reportUnauthorized`, a 401 answer is not relayed but reported, its
   * body discarded, so that the caller may retry with a fresh token; a 401 that is relayed calls `refused` before
   * its head is written.
   */
  forward(
    exchange: ProxyExchange,
    forwarding: Forwarding,
    accessToken: string | undefined,
    reportUnauthorized: boolean,
    traceHeaders: Record<string, string> | undefined,
    done: (outcome: ForwardOutcome) => void,
    refused?: (exchange: ProxyExchange) => void,
  ): void {
    const raw = exchange.raw;
    const { cancel } = forwarding;
    const headers = toDownstreamHeaders(
      raw.headers,
      accessToken,
      {
        remoteAddress: raw.socket.remoteAddress,
        fromTrustedProxy: forwarding.fromTrustedProxy,
        callerAddress: forwarding.callerAddress,
        protocol: (raw.socket as TLSSocket).encrypted ? 'https' : 'http',
        host: raw.headers.host,
        requestId: exchange.requestId,
      },
      this.cookies,
    );
    if (traceHeaders !== undefined) Object.assign(headers, traceHeaders);
    this.pool.dispatch(
      {
        method: exchange.method,
        path: this.basePath + forwarding.path,
        headers,
        body: exchange.hasBody ? raw : null,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      },
      new DownstreamRelay(new Call(this, cancel, exchange, reportUnauthorized, done, refused)),
    );
  }

  /** The caller's answer when the downstream gave none. */
  failure(code: string): Extract<ForwardOutcome, { kind: 'failed' }> {
    const { prefix, timeoutMs } = this.options;
    return TIMEOUT_CODES.has(code)
      ? {
          kind: 'failed',
          status: 504,
          code,
          body: {
            statusCode: 504,
            error: 'Gateway Timeout',
            message: `The downstream service of ${prefix} did not answer within ${timeoutMs} ms`,
          },
        }
      : {
          kind: 'failed',
          status: 502,
          code,
          body: {
            statusCode: 502,
            error: 'Bad Gateway',
            message: `The downstream service of ${prefix} is unreachable (${code})`,
          },
        };
  }

  /** Closes the pool's connections once their calls end. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
