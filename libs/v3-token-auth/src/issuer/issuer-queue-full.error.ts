import { retryAfterHeader, V3TokenException } from '../v3-token.exceptions.js';

/**
 * 503 with `Retry-After`: the issuer's call queue is full, or a call waited longer than the queue allows.
 * The issuer did nothing wrong: the circuit breaker does not count it (`V3TokenClient` counts only `TokenEndpointError`s
 * of kind `issuer`).
 */
export class IssuerQueueFullError extends V3TokenException {
  constructor(
    readonly reason: 'full' | 'waited_too_long',
    readonly retryAfterSeconds = 1,
  ) {
    super(
      503,
      'Service Unavailable',
      reason === 'full'
        ? 'Too many token requests are waiting for the issuer; retry shortly'
        : 'The token request waited too long for a connection to the issuer; retry shortly',
      retryAfterHeader(retryAfterSeconds),
      'temporarily_unavailable',
    );
    this.name = 'IssuerQueueFullError';
  }
}
