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

  constructor(
    maxEntries: number,
    private readonly clock: V3Clock,
    private readonly store: FailSoftTokenStore,
  ) {
    this.known = new BoundedTtlCache<true>({ maxEntries, now: () => clock.now() });
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

  /** Remembers in this process that `bearerKey` was evicted, for `ttlMs`. */
  learn(bearerKey: string, ttlMs: number): void {
    this.known.set(bearerKey, true, this.clock.now() + Math.max(1, ttlMs));
  }

  /** Records the eviction of `bearerKey` here and in the store (which tells every instance), for `ttlMs`. */
  async bury(bearerKey: string, ttlMs: number): Promise<void> {
    this.learn(bearerKey, ttlMs);
    await this.store.tombstone(bearerKey, Math.max(1, ttlMs));
  }
}
