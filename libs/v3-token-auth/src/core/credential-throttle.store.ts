import type { FailureWindow } from './failure-count.table.js';

/** Which count a wrong secret raises: the client's (from anywhere) or the caller address's (any client). */
export type ThrottleScope = 'client' | 'address';

/**
 * Where the {@link CredentialThrottle} keeps its counts; shared by every instance when it lives in Redis.
 *
 * Every key it receives is a keyed hash (a fingerprint of a client id or of a caller address), never a secret, and
 * every known-good tag is a digest of a secret's verifier. Implementations must give every entry a TTL (a
 * window's end, a known-good secret's `ttlMs`), so that junk ids leave nothing behind once their windows end.
 * Implementations: `MemoryCredentialThrottleStore`, `RedisCredentialThrottleStore`.
 */
export interface CredentialThrottleStore {
  /** Counts one wrong secret for `key` in `scope`, opening a window of `windowMs` when none is open. */
  increment(scope: ThrottleScope, key: string, windowMs: number): Promise<FailureWindow>;
  /** The open window of `key` in `scope`; undefined when none is open. */
  read(scope: ThrottleScope, key: string): Promise<FailureWindow | undefined>;
  /** Remembers `tag` as a secret of `clientKey` that obtained a token, for `ttlMs`. */
  rememberKnownGood(clientKey: string, tag: string, ttlMs: number): Promise<void>;
  /** Whether `tag` obtained a token for `clientKey` within its known-good TTL. */
  isKnownGood(clientKey: string, tag: string): Promise<boolean>;
}
