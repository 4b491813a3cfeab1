import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { V3TokenAuthObserver } from './v3-token-auth.observer.js';
import type { V3ClientAuthMethod } from '../v3-token.interfaces.js';
import type { TokenStore } from '../store/token-store.interface.js';
import type { V3Clock } from '../core/clock.js';
import type { V3JwtOptions } from '../jwt/v3-jwt.options.js';

/** Redis connection for the shared token cache. */
export interface V3RedisOptions {
  /**
   * An existing ioredis client (standalone or Cluster). The module never disconnects it. Unless the client has
   * `enableAutoPipelining` on, the store coalesces the writes of one event-loop turn on its sockets (cork, then uncork
   * in `setImmediate`), so other commands sent on it in that turn share the write.
   */
  client?: Redis | Cluster;
  /** `redis://` or `rediss://` URL; the module creates the client and disconnects it on shutdown. */
  url?: string;
  /** Redis Cluster seed nodes, `host:port`. */
  clusterNodes?: string[];
  /** Redis Sentinel: the master group name and the sentinels, `host:port`. */
  sentinel?: { name: string; sentinels: string[] };
  /** Extra ioredis options for a client the module creates. */
  options?: RedisOptions;
  /** Per-command timeout in ms for a client the module creates. @default 500 */
  commandTimeoutMs?: number;
}

/** A key that seals cached tokens at rest (AES-256-GCM). */
export interface V3EncryptionKey {
  /** Short identifier stored with each entry, so a previous key can still open old entries. */
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** Retry policy for retryable issuer failures (429, 5xx, timeouts, refused connections). */
export interface V3RetryOptions {
  /** Attempts in all, the first included. @default 3 */
  attempts?: number;
  /** Base of the jittered exponential backoff, ms. @default 100 */
  baseDelayMs?: number;
  /** Upper bound of one backoff (and of an honoured `Retry-After`), ms. @default 2000 */
  maxDelayMs?: number;
}

/** Circuit breaker in front of the token endpoint. */
export interface V3CircuitBreakerOptions {
  /** Consecutive retryable failures that open the circuit. @default 5 */
  failureThreshold?: number;
  /** How long the circuit stays open before one trial request, ms. @default 10000 */
  resetTimeoutMs?: number;
}

/**
 * Options of `V3TokenAuthModule.forRoot()` / `forRootAsync()`.
 * @example
 * V3TokenAuthModule.forRoot({ tokenUrl: 'https://issuer.example/token', redis: { url: 'redis://localhost:6379' }, hmacKey })
 */
export interface V3TokenAuthModuleOptions {
  /** The token endpoint, e.g. `https://keycloak/realms/acme/protocol/openid-connect/token`. Required. */
  tokenUrl: string;
  /**
   * Grant performed for Basic credentials: `client_credentials` (Basic id:secret) or `password`
   * (Basic username:password; the module adds `clientId`/`clientSecret`). @default 'client_credentials'
   */
  grantType?: 'client_credentials' | 'password';
  /** How client credentials are sent to the token endpoint. @default 'client_secret_post' */
  clientAuthMethod?: V3ClientAuthMethod;
  /** The module's own client id, required for the `password` grant. */
  clientId?: string;
  /** The module's own client secret, for the `password` grant. */
  clientSecret?: string;
  /** Optional `scope` sent with every grant. */
  scope?: string;
  /** Redis for the shared cache. Without it (and without `store`), tokens are cached in process only. */
  redis?: V3RedisOptions;
  /** A custom `TokenStore`; takes precedence over `redis`. */
  store?: TokenStore;
  /** Prefix of every Redis key. @default 'v3t:' */
  keyPrefix?: string;
  /**
   * Key of the HMAC that fingerprints credentials into cache keys and secret verifiers. Must be shared by every
   * instance that shares Redis. @default a random key per process (cache entries are then private to the process)
   */
  hmacKey?: string | Buffer;
  /** Keys sealing tokens at rest; the first seals, all open. @default none: entries are stored as JSON */
  encryptionKeys?: V3EncryptionKey[];
  /** A token counts as expired this many seconds before it does. @default 30 */
  expirySkewSeconds?: number;
  /** Timeout of one token endpoint call, ms. @default 5000 */
  timeoutMs?: number;
  /**
   * Calls in flight to the token endpoint at once (its keep-alive connections). Further calls wait in a bounded queue,
   * and each call's `timeoutMs` starts when it is sent, not while it waits. @default 16
   */
  connections?: number;
  /**
   * Calls that may wait for a connection to the token endpoint; one more is answered 503 with `Retry-After` at once
   * (no failure of the issuer: the circuit breaker does not count it). @default 64
   */
  issuerQueueSize?: number;
  /** Longest a call waits for a connection to the token endpoint before 503, ms. @default 5000 */
  issuerQueueWaitMs?: number;
  /** Retry policy for retryable issuer failures. */
  retry?: V3RetryOptions;
  /** Circuit breaker of the token endpoint. */
  circuitBreaker?: V3CircuitBreakerOptions;
  /** In-process cache in front of the store. @default true */
  memoryCache?: boolean;
  /** Entries the in-process cache holds at most (least recently used go first). @default 10000 */
  memoryCacheMaxEntries?: number;
  /** Fraction of a token's life after which it is renewed in the background. 0 disables. @default 0.8 */
  refreshAheadRatio?: number;
  /** Lease of the cross-instance grant lock, ms (renewed while the grant runs). @default 10000 */
  lockLeaseMs?: number;
  /**
   * How long a request waits for another instance's grant without seeing the holder renew its lease, before granting
   * itself, ms. While the lease is renewed it waits on, at most as long as one grant can take (every attempt's queue
   * wait and timeouts, and the backoffs between them). Keep it above a third of `lockLeaseMs`, the renewal interval.
   * @default 5000
   */
  lockWaitMs?: number;
  /**
   * How long the issuer's refusal of a secret is remembered (by secret, and `invalid_client` by client id for callers
   * whose address already sent wrong secrets), ms. Refused requests (`invalid_scope`, …) are never remembered.
   * @default 5000
   */
  invalidCredentialsTtlMs?: number;
  /**
   * Wrong secrets one caller address may send per window (any client) before its unknown secrets get 429; a client
   * past twice this (from every address) lets unknown secrets through only from addresses with under 3 failures.
   * Known-good secrets are never throttled. @default 10
   */
  maxFailedAttempts?: number;
  /** Window of the per-address and per-client counts of `maxFailedAttempts`, ms. @default 60000 */
  failedAttemptsWindowMs?: number;
  /**
   * Grants one caller address may start per minute (cache misses that reach the issuer; grants of known-good secrets
   * and requests that join a grant in flight are not counted); past it, 429 with `Retry-After`. 0 turns it off.
   * Counted over every instance sharing the store (its `countInWindow`), in process without one. @default 120
   */
  coldGrantsPerAddressPerMinute?: number;
  /**
   * After a downstream refused a token (`V3TokenService.refused`), the credentials it was granted to get one new grant
   * in this time, over every instance sharing the store; a later request of theirs that needs a grant is answered 401
   * `invalid_token` without calling the issuer. A request whose token is still cached always passes. 0 turns it off.
   * @default 30000
   */
  reauthCooldownMs?: number;
  /** How long a secret that obtained a token stays exempt from the wrong-secret throttle, ms. @default 604800000 (7 days) */
  knownGoodTtlMs?: number;
  /**
   * The issuer's RFC 7009 revocation endpoint: `revoke()` passes each revocation on to it, with the caller's client
   * credentials, after evicting the token here. @default none: revocations end tokens in this cache only
   * @example 'https://keycloak/realms/acme/protocol/openid-connect/revoke'
   */
  revocationUrl?: string;
  /** Largest Authorization header accepted, bytes. @default 4096 */
  maxHeaderBytes?: number;
  /** Realm named in `WWW-Authenticate`. @default 'v3-token' */
  realm?: string;
  /** Event hooks for metrics and logs. */
  observer?: V3TokenAuthObserver;
  /**
   * Source of the current time for expiry, refresh-ahead and throttle windows (and `issuedAt` of grants).
   * Inject a fake clock in tests instead of sleeping. @default the wall clock (`Date.now`)
   */
  clock?: V3Clock;
  /**
   * Accept `Authorization: Bearer <JWT>` minted by the issuer, verified locally against its JWKS (`V3JwtVerifier`).
   * @example jwt: { jwksUrl: 'https://issuer.example/certs', issuer: 'https://issuer.example', audience: 'orders' }
   */
  jwt?: V3JwtOptions;
}
