import type { V3TokenAuthObserver } from '../module/v3-token-auth.observer.js';
import type {
  CachedToken,
  CountWindow,
  ReauthWindowState,
  StoredWithTombstone,
  ThrottleState,
  TokenLock,
  TokenStore,
  TombstoneListener,
} from '../store/token-store.interface.js';
import { TokenSpans } from '../tracing/token-spans.js';

/** Span attributes of each store operation, built once. */
const OPERATION_ATTRIBUTES: Record<string, { 'v3_token.store.operation': string }> = {};
const attributesOf = (operation: string) =>
  (OPERATION_ATTRIBUTES[operation] ??= { 'v3_token.store.operation': operation });

/** What a store that cannot be asked reads as: no entry, and a tombstone (nothing read is handed out unchecked). */
const UNREADABLE: StoredWithTombstone = Object.freeze({ entry: undefined, tombstoned: true });

/**
 * The shared store as the request path uses it: a failing store is reported to `observer.storeError` and reads as
 * a miss, so the in-process layer and direct grants keep serving while Redis is down. Each operation is a
 * `v3_token.store.<operation>` span when an OpenTelemetry SDK is registered.
 */
export class FailSoftTokenStore {
  constructor(
    readonly store: TokenStore,
    private readonly observer: V3TokenAuthObserver,
    private readonly spans: TokenSpans = new TokenSpans(),
  ) {}

  /** The entry under `key`, or undefined (also when the store fails). */
  get(key: string): Promise<CachedToken | undefined> {
    return this.attempt('get', () => this.store.get(key));
  }

  /** Stores `entry` for `ttlMs`; a failure is reported and swallowed. */
  async set(key: string, entry: CachedToken, ttlMs: number): Promise<void> {
    await this.attempt('set', () => this.store.set(key, entry, ttlMs));
  }

  /** Deletes the entry (only while it holds `ifAccessToken`, when given); a failure is reported and swallowed. */
  async delete(key: string, ifAccessToken?: string): Promise<void> {
    await this.attempt('delete', () => this.store.delete(key, ifAccessToken));
  }

  /** The lock for `key`; undefined when another holder has it; throws when the store fails (callers fall back). */
  acquireLock(key: string, ttlMs: number): Promise<TokenLock | undefined> {
    if (!this.spans.enabled) return this.store.acquireLock(key, ttlMs);
    return this.spans.run('v3_token.store.acquireLock', attributesOf('acquireLock'), () =>
      this.store.acquireLock(key, ttlMs),
    );
  }

  /** Milliseconds left on the lease of `key`'s lock; undefined when none is held, the store cannot tell or fails. */
  lockTtlMs(key: string): Promise<number | undefined> {
    const ttl = this.store.lockTtlMs?.bind(this.store);
    return ttl ? this.attempt('lockTtl', () => ttl(key)) : Promise.resolve(undefined);
  }

  /** Counts one wrong secret in the shared throttle, when the store keeps one. */
  async countFailure(key: string, windowMs: number): Promise<void> {
    const count = this.store.countFailure?.bind(this.store);
    if (count) await this.attempt('countFailure', () => count(key, windowMs));
  }

  /** Shares that `tag`'s secret is exempt from the throttle, when the store keeps a shared throttle. */
  async rememberGood(key: string, tag: string, ttlMs: number): Promise<void> {
    const remember = this.store.rememberGood?.bind(this.store);
    if (remember) await this.attempt('rememberGood', () => remember(key, tag, ttlMs));
  }

  /** The shared throttle state of `key`; undefined when the store keeps none or fails. */
  throttleState(key: string): Promise<ThrottleState | undefined> {
    const state = this.store.throttleState?.bind(this.store);
    return state ? this.attempt('throttleState', () => state(key)) : Promise.resolve(undefined);
  }

  /** Writes (and announces) the tombstone of a bearer key, when the store keeps them; a failure is reported. */
  async tombstone(key: string, ttlMs: number): Promise<void> {
    const write = this.store.tombstone?.bind(this.store);
    if (write) await this.attempt('tombstone', () => write(key, ttlMs));
  }

  /**
   * Whether the store holds a tombstone for `key`: false when it keeps none; true when it cannot be asked, so that an
   * entry read from it is not handed out unchecked.
   */
  async isTombstoned(key: string): Promise<boolean> {
    return (await this.readTombstone(key)) ?? true;
  }

  /** Whether the store holds a tombstone for `key`: false when it keeps none; undefined when it cannot be asked. */
  readTombstone(key: string): Promise<boolean | undefined> {
    const read = this.store.isTombstoned?.bind(this.store);
    if (read === undefined) return Promise.resolve(false);
    return this.attempt('isTombstoned', () => read(key));
  }

  /**
   * The entry under `key` and whether `bearerKey` has a tombstone, in one read where the store can (else side by side):
   * a failing store reads as no entry, and as a tombstone, like `get` and `isTombstoned`.
   */
  getWithTombstone(key: string, bearerKey: string): Promise<StoredWithTombstone> {
    const store = this.store;
    if (store.getWithTombstone === undefined) {
      return Promise.all([this.get(key), this.isTombstoned(bearerKey)]).then(([entry, tombstoned]) => ({
        entry,
        tombstoned,
      }));
    }
    return this.attempt('getWithTombstone', () => store.getWithTombstone!(key, bearerKey), UNREADABLE);
  }

  /** Counts one for `key` in the shared window of `windowMs`; undefined when the store keeps none or fails. */
  countInWindow(key: string, windowMs: number): Promise<CountWindow | undefined> {
    const count = this.store.countInWindow?.bind(this.store);
    return count ? this.attempt('countInWindow', () => count(key, windowMs)) : Promise.resolve(undefined);
  }

  /** Opens the shared re-grant window of `key`: false when the store keeps none or fails (keep it in process). */
  async openReauthWindow(key: string, ttlMs: number): Promise<boolean> {
    const open = this.store.openReauthWindow?.bind(this.store);
    if (open === undefined) return false;
    return (await this.attempt('openReauthWindow', async () => (await open(key, ttlMs), true))) ?? false;
  }

  /** Spends the shared re-grant window of `key`; undefined when the store keeps none or fails. */
  spendReauthWindow(key: string): Promise<ReauthWindowState | undefined> {
    const spend = this.store.spendReauthWindow?.bind(this.store);
    return spend ? this.attempt('spendReauthWindow', () => spend(key)) : Promise.resolve(undefined);
  }

  /** Gives the shared window of `key` its re-grant back, when the store keeps windows; a failure is reported. */
  async refundReauthWindow(key: string): Promise<void> {
    const refund = this.store.refundReauthWindow?.bind(this.store);
    if (refund) await this.attempt('refundReauthWindow', () => refund(key));
  }

  /** Subscribes `listener` to the store's tombstone announcements, when it makes any. */
  onTombstone(listener: TombstoneListener): void {
    this.store.onTombstone?.(listener);
  }

  /** Reports `error` of `operation` to the observer. */
  reportFailure(operation: string, error: unknown): void {
    this.observer.storeError?.(operation, error instanceof Error ? error.message : String(error));
  }

  /**
   * `action`'s result, or `fallback` when it throws or rejects (reported). No async frame of its own: it is on every
   * store hit's path.
   */
  private attempt<T>(operation: string, action: () => Promise<T>): Promise<T | undefined>;
  private attempt<T, F>(operation: string, action: () => Promise<T>, fallback: F): Promise<T | F>;
  private attempt<T, F>(
    operation: string,
    action: () => Promise<T>,
    fallback?: F,
  ): Promise<T | F | undefined> {
    let pending: Promise<T>;
    try {
      pending = Promise.resolve(
        this.spans.enabled
          ? this.spans.run(`v3_token.store.${operation}`, attributesOf(operation), action)
          : action(),
      );
    } catch (error) {
      this.reportFailure(operation, error);
      return Promise.resolve(fallback);
    }
    return pending.then(undefined, (error: unknown) => {
      this.reportFailure(operation, error);
      return fallback;
    });
  }
}
