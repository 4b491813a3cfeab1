import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, type Dispatcher } from 'undici';
import type { Attributes } from '@opentelemetry/api';
import { TokenSpans } from '../tracing/token-spans.js';
import { CircuitBreaker, CircuitOpenError, type CircuitState } from './circuit-breaker.js';
import { IssuerCallQueue } from './issuer-call.queue.js';
import { IssuerQueueFullError } from './issuer-queue-full.error.js';
import { TokenEndpointError } from './token-endpoint.error.js';
import { refusalOf } from './token-endpoint-refusal.js';
import {
  backoffDelayMs,
  parseRetryAfter,
  resolveRetryOptions,
  type ResolvedRetryOptions,
} from './retry-policy.js';
import type { V3GrantOutcome, V3TokenAuthObserver } from '../module/v3-token-auth.observer.js';
import type { V3CircuitBreakerOptions, V3RetryOptions } from '../module/v3-token-auth.options.js';
import { parseV3TokenResponse } from './v3-token-response.parser.js';
import { sanitizeDescription } from './error-description.js';
import { V3BadRequestException, V3ProtocolException } from '../v3-token.exceptions.js';
import type {
  V3ClientAuthMethod,
  V3GrantType,
  V3HttpMeta,
  V3TokenRequestResponse,
} from '../v3-token.interfaces.js';

/** One grant to perform. Secrets in it are sent to the token endpoint only, never logged or echoed. */
export interface V3GrantRequest {
  grantType: V3GrantType;
  clientId: string;
  clientSecret?: string;
  /** Required for the `password` grant. */
  username?: string;
  /** Required for the `password` grant. */
  password?: string;
  /** Required for the `refresh_token` grant. */
  refreshToken?: string;
  scope?: string;
  /** RFC 8707 resource indicator, sent as `resource`. */
  resource?: string;
}

/** Options of `V3TokenClient`. */
export interface V3TokenClientOptions {
  /** The token endpoint, an `http://` or `https://` URL. */
  tokenUrl: string;
  /** How client credentials are sent (RFC 6749 §2.3.1). @default 'client_secret_post' */
  clientAuthMethod?: V3ClientAuthMethod;
  /** Deadline of one attempt (connect, headers and body), ms. @default 5000 */
  timeoutMs?: number;
  /**
   * Calls in flight to the token endpoint at once, and its keep-alive connections. Further calls wait in a bounded
   * queue ({@link IssuerCallQueue}); a call's timeout starts when it is sent. @default 16
   */
  connections?: number;
  /** Calls that may wait for a free connection; one more is answered 503 at once. @default 64 */
  queueSize?: number;
  /** Longest a call waits for a free connection before 503, ms. @default 5000 */
  queueWaitMs?: number;
  /** Retries of retryable failures (429, 5xx, timeouts, connection errors). */
  retry?: V3RetryOptions;
  /** Circuit breaker around each `requestToken` call. */
  circuitBreaker?: V3CircuitBreakerOptions;
  /** Told about each grant's outcome and each breaker state change. */
  observer?: V3TokenAuthObserver;
  /** Clock, epoch ms: `issuedAt` and the breaker's timing. @default Date.now */
  now?: () => number;
}

/** Largest response body read from the token endpoint, bytes. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** A failed attempt that another attempt may fix. */
interface RetryableFailure {
  reason: string;
  /** The issuer's HTTP status, when it answered. */
  status?: number;
  retryAfterSeconds?: number;
  /** False for failures that retrying cannot fix (the client was closed). */
  retry: boolean;
}

type Attempt = { ok: true; value: V3TokenRequestResponse } | { ok: false; failure: RetryableFailure };

interface PreparedRequest {
  grantType: V3GrantType;
  headers: Record<string, string>;
  body: string;
  /** Values that must never appear in anything this client relays. */
  secrets: string[];
}

/** `application/x-www-form-urlencoded` encoding of one value (space becomes `+`), as RFC 6749 §2.3.1 asks. */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

function flattenHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** A string property of an error; duck-typed, as errors may come from another realm (e.g. a DOMException). */
function errorField(error: unknown, field: 'code' | 'name'): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const value = (error as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : undefined;
}

function errorCode(error: unknown): string | undefined {
  return errorField(error, 'code');
}

function isTimeout(error: unknown): boolean {
  const name = errorField(error, 'name');
  const code = errorCode(error);
  return (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_ABORTED'
  );
}

/**
 * Calls the V3 token endpoint: one keep-alive connection pool behind a bounded call queue, form-encoded grants,
 * strict parsing of the answer, retries with jittered backoff for the issuer's own failures and a circuit breaker
 * in front that counts only those (5xx, 408, timeouts of sent calls, refused connections).
 *
 * @throws TokenEndpointError of kind `credential` or `request` when the issuer refuses the grant (never retried),
 *   `throttled-by-issuer` on its 429 (never retried: the caller is told its `Retry-After`), `issuer` when it fails
 *   (after the retries) and while the circuit is open.
 * @throws IssuerQueueFullError (503) when the call cannot get a connection in time; no failure of the issuer.
 * @throws V3ProtocolException when the issuer answers something that is not a valid token response.
 *
 * @example
 * const client = new V3TokenClient({ tokenUrl: 'https://issuer.example/token' });
 * const { v3TokenResponse } = await client.requestToken({ grantType: 'client_credentials', clientId, clientSecret });
 */
export class V3TokenClient {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly clientAuthMethod: V3ClientAuthMethod;
  private readonly timeoutMs: number;
  private readonly retry: ResolvedRetryOptions;
  private readonly breaker: CircuitBreaker;
  private readonly queue: IssuerCallQueue;
  private readonly observer?: V3TokenAuthObserver;
  private readonly now: () => number;
  private readonly spans = new TokenSpans();
  private readonly serverAttributes: Attributes;
  private closing?: Promise<void>;

  constructor(options: V3TokenClientOptions) {
    let url: URL;
    try {
      url = new URL(options.tokenUrl);
    } catch {
      throw new TypeError('tokenUrl is not a valid URL; expected e.g. https://issuer.example/token');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`tokenUrl must be an http:// or https:// URL, not ${url.protocol}`);
    }
    if (url.username || url.password) {
      throw new TypeError(
        'tokenUrl must not contain credentials; pass the client id and secret with each grant',
      );
    }
    this.path = `${url.pathname}${url.search}`;
    this.serverAttributes = {
      'server.address': url.hostname,
      'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    };
    this.clientAuthMethod = options.clientAuthMethod ?? 'client_secret_post';
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.retry = resolveRetryOptions(options.retry);
    this.observer = options.observer;
    this.now = options.now ?? Date.now;
    this.breaker = new CircuitBreaker({
      failureThreshold: options.circuitBreaker?.failureThreshold,
      resetTimeoutMs: options.circuitBreaker?.resetTimeoutMs,
      observer: { breakerState: (state) => this.observer?.breakerState?.(state) },
      now: this.now,
    });
    const connections = options.connections ?? 16;
    this.queue = new IssuerCallQueue({
      concurrency: connections,
      maxWaiting: options.queueSize,
      maxWaitMs: options.queueWaitMs,
      observer: {
        queueDepth: (waiting, active) => this.observer?.issuerQueue?.(waiting, active),
        queueRejected: (reason) => this.observer?.issuerQueueRejected?.(reason),
      },
      now: this.now,
    });
    this.pool = new Pool(url.origin, {
      connections,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connect: { timeout: this.timeoutMs },
    });
  }

  /** State of the circuit breaker in front of the token endpoint. */
  get breakerState(): CircuitState {
    return this.breaker.state;
  }

  /** Performs one grant at the token endpoint: a `v3_token.grant` span when an OpenTelemetry SDK is registered. */
  requestToken(grant: V3GrantRequest): Promise<V3TokenRequestResponse> {
    if (!this.spans.enabled) return this.grant(grant);
    return this.spans.run('v3_token.grant', this.grantAttributes(grant.grantType), async (span) => {
      const response = await this.grant(grant);
      span?.setAttribute('http.response.status_code', response.httpMeta.status);
      return response;
    });
  }

  private grantAttributes(grantType: V3GrantType): Attributes {
    return { ...this.serverAttributes, 'oauth2.grant_type': grantType };
  }

  private async grant(grant: V3GrantRequest): Promise<V3TokenRequestResponse> {
    const request = this.prepare(grant);
    const started = performance.now();
    try {
      const result = await this.breaker.execute(
        () => this.requestWithRetries(request),
        (error) => error instanceof TokenEndpointError && error.kind === 'issuer',
      );
      this.report('success', grant.grantType, started);
      return result;
    } catch (error) {
      if (error instanceof CircuitOpenError) {
        this.report('circuit_open', grant.grantType, started);
        throw new TokenEndpointError({
          kind: 'issuer',
          error: 'temporarily_unavailable',
          errorDescription: 'The token endpoint is failing; calls are paused by the circuit breaker',
          retryAfterSeconds: error.retryAfterSeconds,
        });
      }
      this.report(outcomeOf(error), grant.grantType, started);
      throw error;
    }
  }

  /** Calls waiting for a connection to the token endpoint, and calls in flight. */
  get queueDepth(): { waiting: number; active: number } {
    return { waiting: this.queue.waiting, active: this.queue.active };
  }

  /** Closes the connection pool; later calls fail as unavailable. */
  close(): Promise<void> {
    this.closing ??= this.pool.close();
    return this.closing;
  }

  private prepare(grant: V3GrantRequest): PreparedRequest {
    if (!grant.clientId) throw new V3BadRequestException('client_id is required');
    const form = new URLSearchParams({ grant_type: grant.grantType });
    const secrets: string[] = [];
    switch (grant.grantType) {
      case 'client_credentials':
        break;
      case 'password':
        if (!grant.username || grant.password === undefined) {
          throw new V3BadRequestException('The password grant needs a username and a password');
        }
        form.set('username', grant.username);
        form.set('password', grant.password);
        secrets.push(grant.password);
        break;
      case 'refresh_token':
        if (!grant.refreshToken)
          throw new V3BadRequestException('The refresh_token grant needs a refresh token');
        form.set('refresh_token', grant.refreshToken);
        secrets.push(grant.refreshToken);
        break;
      default:
        throw new V3BadRequestException('grant_type must be client_credentials, password or refresh_token');
    }
    if (grant.scope) form.set('scope', grant.scope);
    if (grant.resource) form.set('resource', grant.resource);

    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (grant.clientSecret !== undefined) {
      secrets.push(grant.clientSecret, `${grant.clientId}:${grant.clientSecret}`);
      secrets.push(`${formEncode(grant.clientId)}:${formEncode(grant.clientSecret)}`);
    }
    if (this.clientAuthMethod === 'client_secret_basic' && grant.clientSecret !== undefined) {
      const pair = `${formEncode(grant.clientId)}:${formEncode(grant.clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
    } else {
      form.set('client_id', grant.clientId);
      if (grant.clientSecret !== undefined) form.set('client_secret', grant.clientSecret);
    }
    return { grantType: grant.grantType, headers, body: form.toString(), secrets: secrets.filter(Boolean) };
  }

  /**
   * Attempts `request` until it succeeds, is refused or the attempts are spent. Each attempt waits for its own
   * connection in the queue (none is held during a backoff); a retry that finds the queue full ends the request
   * with the failure before it.
   */
  private async requestWithRetries(request: PreparedRequest): Promise<V3TokenRequestResponse> {
    let failure: RetryableFailure | undefined;
    for (let attempt = 1; attempt <= this.retry.attempts; attempt++) {
      let result: Attempt;
      try {
        result = await this.queue.run(() => this.attempt(request));
      } catch (error) {
        if (error instanceof IssuerQueueFullError && failure !== undefined) break;
        throw error;
      }
      if (result.ok) return result.value;
      failure = result.failure;
      if (!failure.retry || attempt === this.retry.attempts) break;
      const delayMs =
        failure.retryAfterSeconds !== undefined
          ? Math.min(failure.retryAfterSeconds * 1000, this.retry.maxDelayMs)
          : backoffDelayMs(attempt, this.retry);
      if (delayMs > 0) await sleep(delayMs);
    }
    const attempts = this.retry.attempts;
    throw new TokenEndpointError({
      kind: 'issuer',
      status: failure?.status,
      error: 'temporarily_unavailable',
      errorDescription: `The token endpoint is unavailable: ${failure?.reason ?? 'no attempt made'}${attempts > 1 ? ` (${attempts} attempts)` : ''}`,
      retryAfterSeconds: failure?.retryAfterSeconds,
    });
  }

  private async attempt(request: PreparedRequest): Promise<Attempt> {
    const issuedAt = this.now();
    const started = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      response = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      return { ok: false, failure: this.transportFailure(error) };
    }

    const { statusCode: status, body } = response;
    const headers = flattenHeaders(response.headers);
    try {
      if (status === 200) {
        const text = await this.readBody(response);
        const v3TokenResponse = parseV3TokenResponse(parseJson(text, headers['content-type']));
        const httpMeta: V3HttpMeta = { status, headers, durationMs: Math.round(performance.now() - started) };
        return { ok: true, value: { httpMeta, v3TokenResponse, issuedAt } };
      }
      if (status === 400 || status === 401 || status === 403) {
        const text = await this.readBody(response).catch(() => '');
        throw this.refused(status, text, request);
      }
      if (status === 429) {
        await body.dump({ limit: MAX_RESPONSE_BYTES }).catch(() => undefined);
        throw new TokenEndpointError({
          kind: 'throttled-by-issuer',
          status,
          error: 'slow_down',
          errorDescription: 'The issuer asks this client to slow down',
          retryAfterSeconds: parseRetryAfter(headers['retry-after'], this.now()),
        });
      }
      if (status === 408 || status >= 500) {
        await body.dump({ limit: MAX_RESPONSE_BYTES }).catch(() => undefined);
        const retryAfterSeconds = parseRetryAfter(headers['retry-after'], this.now());
        return { ok: false, failure: { reason: `HTTP ${status}`, status, retryAfterSeconds, retry: true } };
      }
      await body.dump({ limit: MAX_RESPONSE_BYTES }).catch(() => undefined);
      throw new V3ProtocolException(
        `unexpected HTTP ${status} (check tokenUrl: it must be the token endpoint)`,
      );
    } catch (error) {
      if (error instanceof TokenEndpointError || error instanceof V3ProtocolException) throw error;
      return { ok: false, failure: this.transportFailure(error) };
    } finally {
      if (!body.readableEnded && !body.destroyed) body.destroy();
    }
  }

  /** Reads the body as UTF-8, at most `MAX_RESPONSE_BYTES`. */
  private async readBody(response: Dispatcher.ResponseData): Promise<string> {
    const declared = Number(response.headers['content-length']);
    if (declared > MAX_RESPONSE_BYTES) {
      throw new V3ProtocolException(`the body is larger than ${MAX_RESPONSE_BYTES / 1024} KiB`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) {
        throw new V3ProtocolException(`the body is larger than ${MAX_RESPONSE_BYTES / 1024} KiB`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private refused(status: number, text: string, request: PreparedRequest): TokenEndpointError {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const refusal = refusalOf(
      status,
      typeof fields.error === 'string' ? fields.error : undefined,
      request.grantType,
    );
    const description =
      typeof fields.error_description === 'string'
        ? sanitizeDescription(fields.error_description, request.secrets)
        : undefined;
    return new TokenEndpointError({ ...refusal, status, errorDescription: description || undefined });
  }

  private transportFailure(error: unknown): RetryableFailure {
    const code = errorCode(error);
    if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED') {
      return { reason: 'the client is closed', retry: false };
    }
    if (isTimeout(error)) return { reason: `no answer within ${this.timeoutMs} ms`, retry: true };
    return { reason: `connection failed${code ? ` (${code})` : ''}`, retry: true };
  }

  private report(outcome: V3GrantOutcome, grantType: string, started: number): void {
    try {
      this.observer?.grant?.(outcome, grantType, Math.round(performance.now() - started));
    } catch {
      // An observer must never change the outcome of a grant.
    }
  }
}

function parseJson(text: string, contentType: string | undefined): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new V3ProtocolException(`the body is not JSON (content-type: ${describeContentType(contentType)})`);
  }
}

function describeContentType(contentType: string | undefined): string {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  return mediaType && /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(mediaType) ? mediaType : 'unknown';
}

function outcomeOf(error: unknown): V3GrantOutcome {
  if (error instanceof IssuerQueueFullError) return 'queue_full';
  if (!(error instanceof TokenEndpointError)) return 'protocol_error';
  switch (error.kind) {
    case 'credential':
      return 'invalid_credentials';
    case 'request':
      return 'invalid_request';
    case 'throttled-by-issuer':
      return 'throttled_by_issuer';
    default:
      return 'unavailable';
  }
}
