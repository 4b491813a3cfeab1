/** Outcome of one call to the token endpoint. */
export type V3GrantOutcome =
  'success' | 'invalid_credentials' | 'unavailable' | 'protocol_error' | 'circuit_open';

/** Which limit of the wrong-secret throttle stopped an attempt: the caller address's, or the client's own. */
export type V3ThrottleReason = 'address' | 'client';

/** Where a principal was found. */
export type V3CacheTier = 'memory' | 'store' | 'bearer';

/**
 * Hooks the module calls on notable events, for metrics and logs. Every method is optional.
 * Arguments never contain a secret or a token.
 */
export interface V3TokenAuthObserver {
  grant?(outcome: V3GrantOutcome, grantType: string, durationMs: number): void;
  cacheHit?(tier: V3CacheTier): void;
  cacheMiss?(): void;
  singleFlightWait?(): void;
  lockWait?(outcome: 'acquired' | 'picked_up' | 'timeout' | 'fallback'): void;
  breakerState?(state: 'closed' | 'open' | 'half_open'): void;
  /** A grant for `clientId` was refused with 429 by the wrong-secret throttle, because of `reason`'s limit. */
  throttled?(clientId: string, reason: V3ThrottleReason): void;
  storeError?(operation: string, message: string): void;
  refreshAhead?(outcome: 'started' | 'success' | 'failed'): void;
}
