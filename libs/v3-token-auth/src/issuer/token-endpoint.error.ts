/**
 * What kind of failure a token endpoint call ended in, which decides who is to blame and what the gateway does:
 * - `credential`: the issuer refused the client's or user's secret (`invalid_client`, `unauthorized_client`,
 *   `invalid_grant` of a password or refresh-token grant). Remembered against the secret and counted by the
 *   wrong-secret throttle.
 * - `request`: the issuer refused the request itself (`invalid_scope`, `invalid_request`, `unsupported_grant_type`,
 *   `invalid_target`, `invalid_grant` of a client-credentials grant…). Passed to the caller as 400; never remembered
 *   or counted.
 * - `issuer`: the issuer failed (5xx, 408, a timeout of a call it received, a refused connection, an open circuit).
 *   The only kind the circuit breaker counts.
 * - `throttled-by-issuer`: the issuer answered 429 for this client; honoured for this client until `Retry-After`.
 */
export type TokenEndpointErrorKind = 'credential' | 'request' | 'issuer' | 'throttled-by-issuer';

/** Fields of a {@link TokenEndpointError}. */
export interface TokenEndpointErrorInit {
  kind: TokenEndpointErrorKind;
  /** The issuer's HTTP status; undefined when no answer came (timeout, connection error, open circuit). */
  status?: number;
  /** OAuth 2.0 error code (RFC 6749 §5.2) the issuer answered, or the one that describes the failure. */
  error: string;
  /** The issuer's `error_description`, or our account of the failure; never contains a secret of the request. */
  errorDescription?: string;
  /** Seconds after which the same request may succeed (the issuer's `Retry-After`, or the breaker's). */
  retryAfterSeconds?: number;
}

/**
 * The typed failure of a call to the token endpoint: the transport's error, not the framework's (the Nest module
 * maps it to its HTTP exceptions at its edge, see `toV3Exception`).
 * @example
 * try { await client.requestToken(grant) } catch (e) { if (e instanceof TokenEndpointError && e.kind === 'request') … }
 */
export class TokenEndpointError extends Error {
  readonly kind: TokenEndpointErrorKind;
  readonly status: number | undefined;
  readonly error: string;
  readonly errorDescription: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(init: TokenEndpointErrorInit) {
    super(
      init.errorDescription
        ? `${init.error}: ${init.errorDescription}`
        : `The token endpoint answered ${init.error}${init.status === undefined ? '' : ` (HTTP ${init.status})`}`,
    );
    this.name = 'TokenEndpointError';
    this.kind = init.kind;
    this.status = init.status;
    this.error = init.error;
    this.errorDescription = init.errorDescription;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  /** Whether the same request may succeed later: an issuer failure or its 429, never a refusal. */
  get retryable(): boolean {
    return this.kind === 'issuer' || this.kind === 'throttled-by-issuer';
  }
}
