import type { V3Clock } from './clock.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import type { LocalTokenCache } from './local-token.cache.js';
import type { TokenFingerprinter } from './token-fingerprint.js';
import type { TokenTombstones } from './token-tombstones.js';

/** Life of a tombstone when the evicted token is in no cache (so its expiry is unknown), ms. */
export const UNKNOWN_TOKEN_TOMBSTONE_MS = 3_600_000;

/**
 * Evicts an access token from every tier, on every instance sharing the store: first a tombstone in this process (so
 * no read or grant in flight here brings it back), then its slots here, the store's tombstone (announced to the other
 * instances, which drop their copies) and its store entries. Instances learn of evictions elsewhere through
 * {@link TokenEvictor.listen}.
 */
export class TokenEvictor {
  constructor(
    private readonly local: LocalTokenCache,
    private readonly store: FailSoftTokenStore,
    private readonly tombstones: TokenTombstones,
    private readonly fingerprinter: TokenFingerprinter,
    private readonly clock: V3Clock,
  ) {}

  /**
   * Evicts `accessToken` everywhere and tombstones it for the rest of its life: until the expiry of the entries that
   * hold it, else `expiresAt` (epoch ms: a verified issuer JWT's `exp`, which no entry holds), else an hour.
   */
  async evict(accessToken: string, expiresAt?: number): Promise<void> {
    const bearerKey = this.fingerprinter.bearerKey(accessToken);
    this.tombstones.learn(bearerKey, UNKNOWN_TOKEN_TOMBSTONE_MS);
    const held = this.local.evictToken(bearerKey);
    const lastsUntil =
      held.length > 0
        ? Math.max(...held.map((slot) => slot.token.expiresAt))
        : ((await this.store.get(bearerKey))?.expiresAt ??
          Math.max(expiresAt ?? 0, this.clock.now() + UNKNOWN_TOKEN_TOMBSTONE_MS));
    const ttlMs = Math.max(1, lastsUntil - this.clock.now());
    await this.tombstones.bury(bearerKey, ttlMs);
    const keys = new Set([bearerKey, ...held.map((slot) => slot.key)]);
    await Promise.all([...keys].map((key) => this.store.delete(key, accessToken)));
  }

  /**
   * Listens to the store's tombstone announcements: a token evicted elsewhere is dropped here; after announcements
   * may have been missed (a reconnect), every token held here is checked against the store's tombstones once.
   */
  listen(): void {
    this.store.onTombstone((tombstone) => {
      if (tombstone === undefined) {
        this.tombstones.forgetCleared();
        void this.recheckHeld();
        return;
      }
      this.tombstones.learn(tombstone.key, tombstone.ttlMs);
      this.local.evictToken(tombstone.key);
    });
  }

  /** Drops every token held here that has a tombstone in the store (or that the store cannot vouch for). */
  async recheckHeld(): Promise<void> {
    const bearerKeys = new Set(this.local.heldSlots().map((slot) => slot.bearerKey));
    await Promise.all(
      [...bearerKeys].map(async (bearerKey) => {
        if (await this.store.isTombstoned(bearerKey)) this.local.evictToken(bearerKey);
      }),
    );
  }
}
