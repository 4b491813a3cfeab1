import type { JwksUnavailableError } from './jwks-unavailable.error.js';

/** First wait after a failed JWKS fetch, ms; doubled on each further failure. */
export const JWKS_FIRST_BACKOFF_MS = 1000;

/**
 * How long no JWKS fetch may start after a failed one: {@link JWKS_FIRST_BACKOFF_MS}, doubled on each further
 * failure, at most `maxMs`. A good fetch resets it.
 */
export class JwksFetchBackoff {
  private failures = 0;
  private lastFailure: JwksUnavailableError | undefined;

  constructor(
    private readonly maxMs: number,
    private readonly now: () => number,
  ) {}

  /** The last failure while its backoff lasts; undefined when a fetch may start. */
  pendingFailure(): JwksUnavailableError | undefined {
    return this.lastFailure && this.now() < this.lastFailure.retryAt ? this.lastFailure : undefined;
  }

  /** Records a failed fetch; answers it with the time the next fetch may start. */
  failed(error: JwksUnavailableError): JwksUnavailableError {
    const delayMs = Math.min(JWKS_FIRST_BACKOFF_MS * 2 ** this.failures, this.maxMs);
    this.failures += 1;
    this.lastFailure = error.retryingAt(this.now() + delayMs);
    return this.lastFailure;
  }

  /** Records a good fetch: the next failure waits {@link JWKS_FIRST_BACKOFF_MS} again. */
  succeeded(): void {
    this.failures = 0;
    this.lastFailure = undefined;
  }
}
