import { randomUUID } from 'node:crypto';
import type {
  CachedToken,
  CountWindow,
  ReauthWindowState,
  TokenLock,
  TokenStore,
  TombstoneListener,
} from '../token-store.interface.js';
import { BoundedTtlCache, type BoundedCacheOptions } from './bounded-ttl.cache.js';
import { FailureCountTable } from '../../core/failure-count.table.js';
import { MemoryReauthWindows } from './memory-reauth-windows.js';

/**
 * The default `TokenStore`: tokens cached in this process only, bounded and expiry-aware.
 * Locks exclude holders in this process only, and are bounded like the entries: past `maxEntries`
 * concurrent locks, the least recently used lock is dropped (a duplicate grant, never a wrong token).
 * @example new MemoryTokenStore({ maxEntries: 10_000 })
 */
export class MemoryTokenStore implements TokenStore {
  private readonly entries: BoundedTtlCache<CachedToken>;
  private readonly locks: BoundedTtlCache<string>;
  private readonly tombstones: BoundedTtlCache<true>;
  private readonly tombstoneListeners: TombstoneListener[] = [];
  private readonly reauthWindows: MemoryReauthWindows;
  private readonly counts: FailureCountTable;
  private readonly now: () => number;

  constructor({ maxEntries = 10000, now = Date.now }: BoundedCacheOptions = {}) {
    this.now = now;
    this.reauthWindows = new MemoryReauthWindows({ maxEntries, now });
    this.counts = new FailureCountTable({ maxEntries, now });
    this.entries = new BoundedTtlCache({ maxEntries, now });
    this.locks = new BoundedTtlCache({ maxEntries, now });
    this.tombstones = new BoundedTtlCache({ maxEntries, now });
  }

  get(key: string): Promise<CachedToken | undefined> {
    return Promise.resolve(this.entries.get(key));
  }

  set(key: string, entry: CachedToken, ttlMs: number): Promise<void> {
    if (ttlMs > 0) this.entries.set(key, { ...entry }, this.now() + ttlMs);
    return Promise.resolve();
  }

  delete(key: string, ifAccessToken?: string): Promise<boolean> {
    if (ifAccessToken !== undefined) {
      const current = this.entries.get(key);
      if (current === undefined || current.accessToken !== ifAccessToken) return Promise.resolve(false);
    }
    return Promise.resolve(this.entries.delete(key));
  }

  acquireLock(key: string, ttlMs: number): Promise<TokenLock | undefined> {
    if (this.locks.get(key) !== undefined) return Promise.resolve(undefined);
    const owner = randomUUID();
    this.locks.set(key, owner, this.now() + ttlMs);
    if (this.locks.get(key) !== owner) return Promise.resolve(undefined);
    const locks = this.locks;
    const now = this.now;
    return Promise.resolve({
      key,
      renew(renewTtlMs: number): Promise<boolean> {
        if (locks.get(key) !== owner) return Promise.resolve(false);
        locks.set(key, owner, now() + renewTtlMs);
        return Promise.resolve(locks.get(key) === owner);
      },
      release(): Promise<void> {
        if (locks.get(key) === owner) locks.delete(key);
        return Promise.resolve();
      },
    });
  }

  lockTtlMs(key: string): Promise<number | undefined> {
    const expiresAt = this.locks.expiresAt(key);
    return Promise.resolve(expiresAt === undefined ? undefined : Math.max(0, expiresAt - this.now()));
  }

  tombstone(key: string, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) return Promise.resolve();
    this.tombstones.set(key, true, this.now() + ttlMs);
    for (const listener of this.tombstoneListeners) listener({ key, ttlMs });
    return Promise.resolve();
  }

  isTombstoned(key: string): Promise<boolean> {
    return Promise.resolve(this.tombstones.get(key) === true);
  }

  onTombstone(listener: TombstoneListener): void {
    this.tombstoneListeners.push(listener);
  }

  countInWindow(key: string, windowMs: number): Promise<CountWindow> {
    return Promise.resolve(this.counts.countInWindow(key, windowMs));
  }

  openReauthWindow(key: string, ttlMs: number): Promise<void> {
    this.reauthWindows.open(key, ttlMs);
    return Promise.resolve();
  }

  spendReauthWindow(key: string): Promise<ReauthWindowState> {
    return Promise.resolve(this.reauthWindows.spend(key));
  }

  refundReauthWindow(key: string): Promise<void> {
    this.reauthWindows.refund(key);
    return Promise.resolve();
  }

  isHealthy(): boolean {
    return true;
  }

  close(): Promise<void> {
    this.entries.clear();
    this.locks.clear();
    this.tombstones.clear();
    this.reauthWindows.clear();
    return Promise.resolve();
  }
}
