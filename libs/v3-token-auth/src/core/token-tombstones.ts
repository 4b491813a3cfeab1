import { BoundedTtlCache } from '../store/memory/bounded-ttl.cache.js';
import type { V3Clock } from './clock.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';

/**
 * Which tokens were evicted, by bearer key (a keyed hash, never the token), until they would have expired: in this
 * process (evictions here and those the store announced) and in the shared store. A token read from the store is
 * handed out only when neither knows it; a token held in process was dropped when its tombstone was learnt.
 */
export class TokenTombstones {
  private readonly known: BoundedTtlCache<true>;
  /** Tokens the store had no tombstone for when `clearedOnce` asked; their later evictions arrive as announcements. */
  private readonly cleared: BoundedTtlCache<true>;

  constructor(
    maxEntries: number,
    private readonly clock: V3Clock,
    private readonly store: FailSoftTokenStore,
  ) {
    this.known = new BoundedTtlCache<true>({ maxEntries, now: () => clock.now() });
    this.cleared = new BoundedTtlCache<true>({ maxEntries, now: () => clock.now() });
  }

  /** Whether this process knows `bearerKey` was evicted; no I/O. */
  knows(bearerKey: string): boolean {
    return this.known.get(bearerKey) === true;
  }

  /** Whether `bearerKey` was evicted, here or (one store read) by any instance sharing the store. */
  async isEvicted(bearerKey: string): Promise<boolean> {
    if (this.knows(bearerKey)) return true;
    const evicted = await this.store.isTombstoned(bearerKey);
    return evicted || this.knows(bearerKey);
  }

  /**
   * Whether `bearerKey` may be accepted for a token verified without the store (an issuer JWT): not if this process
   * knows it was evicted; else the store is asked the first time (a store that cannot answer is asked again next time,
   * and does not refuse the token: a JWT is verified on its own), and its "no tombstone" is remembered until
   * `expiresAt`, epoch ms. Evictions after that reach this process as announcements (`learn`).
   */
  async clearedOnce(bearerKey: string, expiresAt: number): Promise<boolean> {
    if (this.knows(bearerKey)) return false;
    if (this.cleared.get(bearerKey) === true) return true;
    const tombstoned = await this.store.readTombstone(bearerKey);
    if (tombstoned === false) this.cleared.set(bearerKey, true, expiresAt);
    return tombstoned !== true && !this.knows(bearerKey);
  }

  /** Forgets every `clearedOnce` answer: announcements may have been missed (the store's subscription reconnected). */
  forgetCleared(): void {
    this.cleared.clear();
  }

  /** Remembers in this process that `bearerKey` was evicted, for `ttlMs`. */
  learn(bearerKey: string, ttlMs: number): void {
    // Once the bounded `known` drops it, the store is asked again: a "no tombstone" answer kept here would outlive it.
    this.cleared.delete(bearerKey);
    this.known.set(bearerKey, true, this.clock.now() + Math.max(1, ttlMs));
  }

  /** Records the eviction of `bearerKey` here and in the store (which tells every instance), for `ttlMs`. */
  async bury(bearerKey: string, ttlMs: number): Promise<void> {
    this.learn(bearerKey, ttlMs);
    await this.store.tombstone(bearerKey, Math.max(1, ttlMs));
  }
}
