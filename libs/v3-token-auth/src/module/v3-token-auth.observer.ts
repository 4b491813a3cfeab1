/** Outcome of one call to the token endpoint. */
export type V3GrantOutcome =
  | 'success'
  | 'invalid_credentials'
  | 'invalid_request'
  | 'throttled_by_issuer'
  | 'unavailable'
  | 'protocol_error'
  | 'circuit_open'
  | 'queue_full';

/** Which limit of the wrong-secret throttle stopped an attempt: the caller address's, or the client's own. */
export type V3ThrottleReason = 'address' | 'client';

/** Where a principal was found. */
export type V3CacheTier = 'memory' | 'store' | 'bearer';

/** Why a grant was stopped before it reached the issuer. */
export type V3GrantRefusal =
  /** The issuer answered 429 for this client; its `Retry-After` has not passed. */
  | 'issuer_throttled'
  /** This caller address spent its cold grants of the minute (`coldGrantsPerAddressPerMinute`). */
  | 'cold_grant_limit'
  /** A downstream refused these credentials' token and their one re-grant of the window is spent (`reauthCooldownMs`). */
  | 'reauth_cooldown';

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
  /** A grant was answered 429 (401 for `reauth_cooldown`) without calling the issuer, and why. */
  grantRefused?(reason: V3GrantRefusal, clientId: string): void;
  /** The token endpoint's call queue changed: calls `waiting` for a connection, calls `active` in flight. */
  issuerQueue?(waiting: number, active: number): void;
  /** A call found the token endpoint's queue full, or waited in it too long, and was answered 503. */
  issuerQueueRejected?(reason: 'full' | 'waited_too_long'): void;
  storeError?(operation: string, message: string): void;
  refreshAhead?(outcome: 'started' | 'success' | 'failed'): void;
}
