/** Fields of a {@link JwksUnavailableError} besides its message. */
export interface JwksUnavailableErrorInit {
  /** The fetch ran out of `jwksTimeoutMs`. */
  timedOut?: boolean;
  /** When the next JWKS fetch may start (epoch ms, by the verifier's clock); 0 until a backoff is set. */
  retryAt?: number;
  cause?: unknown;
}

/**
 * The issuer JWKS could not be fetched or used: a non-200 answer, a timeout, a connection error, a body over the size
 * cap, or a document that is not a JWK Set. The transport's error; `V3JwtVerifier` answers it as a 503.
 */
export class JwksUnavailableError extends Error {
  readonly timedOut: boolean;
  readonly retryAt: number;

  constructor(message: string, init: JwksUnavailableErrorInit = {}) {
    super(message, { cause: init.cause });
    this.name = 'JwksUnavailableError';
    this.timedOut = init.timedOut ?? false;
    this.retryAt = init.retryAt ?? 0;
  }

  /** The same failure, with the time the next fetch may start. */
  retryingAt(retryAt: number): JwksUnavailableError {
    return new JwksUnavailableError(this.message, { timedOut: this.timedOut, retryAt, cause: this.cause });
  }
}
