import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { V3Principal } from 'nestjs-v3-token-auth';
import { plainErrorBody } from '../errors/error-reply.js';
import { newRequestId, REQUEST_ID_HEADER } from '../logging/request-id.js';
import type { RequestTrace } from '../tracing/proxy-tracing.js';
import type { Forwarding } from './downstream.js';

/** The JSON body of the gateway's own answers on proxied routes (`{ statusCode, error, message }` …). */
export type AnswerBody = object;

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * One proxied request in flight: the caller's request and response as `node:http` gives them, and what the proxy
 * learns about the request on its way (where it goes, as whom, its span). It is also the request the
 * authentication guard reads (`headers`) and annotates (`user`, `v3CallerAddress`).
 */
export class ProxyExchange {
  /** The authenticated principal, once the route's policy let it pass. */
  user: V3Principal | undefined = undefined;
  /** The caller address the wrong-secret throttle counts (read by `V3TokenAuthGuard`). */
  v3CallerAddress: string | undefined = undefined;
  /** Where the request goes; set by the edge once method and target passed. */
  forwarding: Forwarding | undefined = undefined;
  /** The request's span, while tracing is on. */
  trace: RequestTrace | undefined = undefined;
  /** The caller's connection (the request lets go of it once an answer sent before the body ended is done). */
  readonly socket: Socket;
  /** The request's id: its sane `X-Request-Id`, else a new UUID (`newRequestId`); sent back and to the downstream. */
  readonly requestId: string;
  private readonly startedAt = performance.now();
  /** Called once the exchange is over; undefined once it is. */
  private endListeners: Array<() => void> | undefined = [];

  constructor(
    readonly raw: IncomingMessage,
    readonly response: ServerResponse,
    /** Whether the request carries a body to stream to the downstream (`Transfer-Encoding`, or a non-zero length). */
    readonly hasBody: boolean,
    /**
     * Whether the caller waits for `100 Continue` before sending its body (`Expect: 100-continue`): it is sent once
     * the request is let through to the downstream, so a caller that is refused (401, 429 …) uploads nothing.
     */
    private awaitsContinue = false,
  ) {
    this.socket = raw.socket;
    this.requestId = newRequestId(raw.headers);
    // `on`, not `once`: `end` runs its listeners once anyway, and `once` would wrap it in a closure per request.
    response.on('close', this.end);
  }

  /**
   * Calls `listener` once the exchange is over: its answer sent, or given up because the caller left (the
   * response's `close`, or its connection's for an answer still queued behind another: `QueuedExchanges`).
   */
  onEnd(listener: () => void): void {
    if (this.endListeners === undefined) listener();
    else this.endListeners.push(listener);
  }

  /** Ends the exchange, once: see `onEnd`. */
  readonly end = (): void => {
    const listeners = this.endListeners;
    if (listeners === undefined) return;
    this.endListeners = undefined;
    for (const listener of listeners) listener();
  };

  get headers(): IncomingHttpHeaders {
    return this.raw.headers;
  }

  get method(): string {
    return this.raw.method!;
  }

  /** Invites the caller's body (`100 Continue`) if it is waiting for that; once. */
  continueBody(): void {
    if (!this.awaitsContinue) return;
    this.awaitsContinue = false;
    if (!this.response.headersSent) this.response.writeContinue();
  }

  /** Seconds since the request reached the data plane. */
  elapsedSeconds(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  /** Whether an answer can still be started: no head sent, the caller still there. */
  get answerable(): boolean {
    return !this.response.headersSent && !this.response.destroyed;
  }

  /**
   * Answers with the gateway's own JSON `body`, unless an answer was started. With `replace`, headers set for an
   * answer that never left (a relayed head before its call failed) are dropped first, the request id kept.
   */
  answer(status: number, body: AnswerBody, headers?: Record<string, string>, replace = false): void {
    const response = this.response;
    if (!this.answerable) return;
    if (replace) {
      for (const name of response.getHeaderNames())
        if (name !== REQUEST_ID_HEADER) response.removeHeader(name);
    }
    if (headers !== undefined) for (const name in headers) response.setHeader(name, headers[name]);
    const json = JSON.stringify(body);
    response.statusCode = status;
    response.setHeader('content-type', JSON_TYPE);
    response.setHeader('content-length', Buffer.byteLength(json));
    response.end(json);
  }

  /** Answers `{ statusCode, error, message }`: the gateway's plain error on a proxied route, never an OAuth body. */
  refuse(status: number, message: string, headers?: Record<string, string>): void {
    this.answer(status, plainErrorBody(status, message), headers);
  }
}
