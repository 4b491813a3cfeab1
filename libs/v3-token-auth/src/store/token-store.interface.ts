/** Other secrets' verifiers one cached token carries at most, besides its own (an old and a new secret, and one more). */
export const MAX_RECENT_VERIFIERS = 2;

/** The verifier of another recent secret of a token's identity, and when that secret last obtained a token. */
export interface RecentVerifier {
  /** Keyed hash (HMAC) of the secret; never the secret. */
  verifier: string;
  /** Epoch ms of that secret's last grant. */
  grantedAt: number;
}

/**
 * One cached grant. Holds no secret: `verifier` is a keyed hash of the secret that obtained the token,
 * compared in constant time before the token is handed to anyone.
 */
export interface CachedToken {
  accessToken: string;
  tokenType: 'Bearer';
  /** Epoch ms the token was requested at. */
  issuedAt: number;
  /** Epoch ms the token expires at, as issued (no skew applied). */
  expiresAt: number;
  refreshToken?: string;
  /** Epoch ms the refresh token expires at. */
  refreshExpiresAt?: number;
  scope?: string;
  /** The RFC 8707 resource the token was granted for (its audience), when one was asked for. */
  resource?: string;
  clientId: string;
  username?: string;
  /** Keyed hash (HMAC) of the caller's secret; empty for entries that are looked up by bearer token. */
  verifier: string;
  /**
   * On an entry looked up by bearer token: the re-grant window tag of the credentials whose grant it is (a SHA-256 of
   * their verifier, `TokenFingerprinter.exemptionTag`), so that a downstream's refusal of the token reaches them.
   */
  grantTag?: string;
  /**
   * Verifiers of up to `MAX_RECENT_VERIFIERS` other secrets of the same identity that obtained a token within one lifetime of this one
   * (an old and a new secret during rotation): they are served this token too. See `SecretRotation`.
   */
  recentVerifiers?: RecentVerifier[];
}

/** A held distributed lock. `release` deletes it only while this holder still owns it. */
export interface TokenLock {
  readonly key: string;
  /** Extends the lease; resolves false when the lock was lost. */
  renew(ttlMs: number): Promise<boolean>;
  release(): Promise<void>;
}

/** The wrong-secret throttle of one client as every instance sharing the store sees it. */
export interface ThrottleState {
  /** Wrong secrets counted in the current window. */
  failures: number;
  /** Milliseconds until the current window ends; 0 when none is open. */
  resetInMs: number;
  /** What `rememberGood` stored for the last secret that obtained a token, while it stays exempt. */
  good?: string;
}

/** A count in a fixed window (`TokenStore.countInWindow`) as every instance sharing the store sees it. */
export interface CountWindow {
  /** Counted in the current window, this one included. */
  count: number;
  /** Milliseconds until the window ends. */
  resetInMs: number;
}

/** A re-grant window (`TokenStore.spendReauthWindow`) as every instance sharing the store sees it. */
export type ReauthWindowState =
  /** No window is open: a grant needs no permission. */
  | { open: false }
  /** A window is open for `resetInMs` more; `regrant` is true for the one grant that spent its re-grant. */
  | { open: true; regrant: boolean; resetInMs: number };

/**
 * Where cached grants live. Implementations: `MemoryTokenStore` (default) and `RedisTokenStore`.
 * Keys are fingerprints: they never contain a secret.
 */
export interface TokenStore {
  get(key: string): Promise<CachedToken | undefined>;
  /** Stores `entry` for `ttlMs`; a non-positive ttl stores nothing. */
  set(key: string, entry: CachedToken, ttlMs: number): Promise<void>;
  /** Deletes the entry; with `ifAccessToken`, only while it still holds that access token. */
  delete(key: string, ifAccessToken?: string): Promise<boolean>;
  /** Takes the lock for `key` for `ttlMs`, or resolves undefined when another holder has it. */
  acquireLock(key: string, ttlMs: number): Promise<TokenLock | undefined>;
  /**
   * Milliseconds left on the lease of `key`'s lock, or undefined when no lock is held (or it has no lease). A waiting
   * instance reads it to see the holder renew its lease, and waits on while it does. Optional; without it a waiter
   * grants itself once `lockWaitMs` has passed.
   */
  lockTtlMs?(key: string): Promise<number | undefined>;
  /** Resolves once the backing service can answer (true), or false after `timeoutMs`. Optional. */
  waitUntilReady?(timeoutMs: number): Promise<boolean>;
  /** False while the backing service is unreachable. */
  isHealthy(): boolean;
  /**
   * Asks the backing service to answer within `timeoutMs`: true when it did. A connected but hung service is false.
   * Optional; stores without it are judged by `isHealthy()`.
   */
  ping?(timeoutMs: number): Promise<boolean>;
  /** Releases what the store created itself (never a client it was given). */
  close(): Promise<void>;
  /**
   * Counts one wrong secret for `key` in a window of `windowMs` that the first one opens, shared by every instance.
   * Optional, with `rememberGood` and `throttleState`: without them each instance throttles on its own counts.
   */
  countFailure?(key: string, windowMs: number): Promise<void>;
  /**
   * Remembers `tag` (a digest of the verifier of the secret that obtained `key`'s token) as exempt from the throttle
   * for `ttlMs`.
   */
  rememberGood?(key: string, tag: string, ttlMs: number): Promise<void>;
  /** The shared throttle state of `key`. */
  throttleState?(key: string): Promise<ThrottleState>;
  /**
   * Counts one event for `key` in a window of `windowMs` that the first one opens, over every instance sharing the
   * store, and answers the window (the cold grants one caller address started this minute). Optional: without it each
   * instance counts on its own.
   */
  countInWindow?(key: string, windowMs: number): Promise<CountWindow>;
  /**
   * Opens the re-grant window of `key` (a digest of the verifier of the credentials whose token a downstream refused)
   * for `ttlMs`, holding one re-grant, unless one is open. Optional, with `spendReauthWindow`: without them each
   * instance keeps its own windows.
   */
  openReauthWindow?(key: string, ttlMs: number): Promise<void>;
  /** Spends the re-grant of `key`'s open window, atomically over every instance sharing the store. */
  spendReauthWindow?(key: string): Promise<ReauthWindowState>;
  /** Gives `key`'s open window its re-grant back (the grant that spent it failed at the issuer). */
  refundReauthWindow?(key: string): Promise<void>;
  /**
   * Records for `ttlMs` that the token whose bearer key is `key` was evicted (`TokenFingerprinter.bearerKey`: a keyed
   * hash, never the token), and tells every instance sharing the store through `onTombstone`. Optional, with
   * `isTombstoned` and `onTombstone`: without them an eviction is known to this process only.
   */
  tombstone?(key: string, ttlMs: number): Promise<void>;
  /** Whether the token with bearer key `key` has a live tombstone. Throws when the store cannot be asked. */
  isTombstoned?(key: string): Promise<boolean>;
  /**
   * `get(key)` and `isTombstoned(bearerKey)` in one read, where the store can answer both at once. Optional: without it
   * the two are asked side by side. Throws when the store cannot be asked.
   */
  getWithTombstone?(key: string, bearerKey: string): Promise<StoredWithTombstone>;
  /**
   * Calls `listener` with the bearer key and remaining ms of every tombstone any instance writes, and with
   * `undefined` when notifications may have been missed (a reconnect): then every token held in process is dropped.
   */
  onTombstone?(listener: TombstoneListener): void;
}

/** An entry read with the tombstone of a bearer key (`TokenStore.getWithTombstone`). */
export interface StoredWithTombstone {
  /** The entry, or undefined when there is none (or it could not be read). */
  entry: CachedToken | undefined;
  /** Whether the bearer key has a live tombstone. */
  tombstoned: boolean;
}

/** Told of tombstones written by any instance sharing a store; `undefined` when some may have been missed. */
export type TombstoneListener = (tombstone: { key: string; ttlMs: number } | undefined) => void;

/** Injection token of the `TokenStore` in use (same name as the interface, as throttler does). */
export const TokenStore = Symbol('TokenStore');
