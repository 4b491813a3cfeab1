import { BoundedTtlCache } from '../store/memory/bounded-ttl.cache.js';
import type { CachedToken } from '../store/token-store.interface.js';
import type { V3Clock } from './clock.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import type { LocalTokenCache } from './local-token.cache.js';
import { SecretRotation } from './secret-rotation.js';
import { TokenFingerprinter } from './token-fingerprint.js';
import type { TokenLifetime } from './token-lifetime.js';
import type { TokenTombstones } from './token-tombstones.js';
import { toPrincipal } from './token-response.mapper.js';
import type { TokenSlot } from './token-slot.js';

/**
 * The two cache tiers together: the in-process layer in front of the shared store. Reads check freshness (see
 * `TokenLifetime`), that the token serves the caller's secret (`SecretRotation`), and a token read from the store its
 * tombstone (`TokenTombstones`); writes go to the store, the token's bearer entry, and this process, a new grant
 * carrying the verifiers of the token it replaces. An evicted token is never held again.
 */
export class TieredTokenCache {
  /** Bearer keys of the tokens met lately, so a store hit costs no HMAC (in process only, like the tokens). */
  private readonly bearerKeys: BoundedTtlCache<string>;
  /** The bearer key of the token last read from the store under each credentials key (a keyed hash, never a token). */
  private readonly storedBearerKeys: BoundedTtlCache<string>;

  constructor(
    readonly local: LocalTokenCache,
    private readonly store: FailSoftTokenStore,
    private readonly fingerprinter: TokenFingerprinter,
    private readonly lifetime: TokenLifetime,
    private readonly clock: V3Clock,
    private readonly tombstones: TokenTombstones,
    maxEntries: number,
  ) {
    this.bearerKeys = new BoundedTtlCache<string>({ maxEntries, now: () => clock.now() });
    this.storedBearerKeys = new BoundedTtlCache<string>({ maxEntries, now: () => clock.now() });
  }

  /** The in-process slot of `key` if it is fresh and serves the secret behind `verifier`. */
  freshLocal(key: string, verifier: string): TokenSlot | undefined {
    const slot = this.local.slot(key);
    if (slot === undefined || this.clock.now() >= slot.freshUntil) return undefined;
    return SecretRotation.serves(slot.token, verifier) ? slot : undefined;
  }

  /**
   * The stored entry of `key` if it is fresh, serves the secret behind `verifier` and was not evicted. The tombstone of
   * the token read under `key` last time is read with the entry (one round trip); only an entry that holds another
   * token has its own tombstone read after it.
   */
  async freshStored(key: string, verifier: string): Promise<CachedToken | undefined> {
    const guess = this.storedBearerKeys.get(key);
    const { entry: stored, tombstoned } =
      guess === undefined
        ? { entry: await this.store.get(key), tombstoned: false }
        : await this.store.getWithTombstone(key, guess);
    if (!stored || this.clock.now() >= this.lifetime.freshUntil(stored)) return undefined;
    if (!SecretRotation.serves(stored, verifier)) return undefined;
    const bearerKey = this.bearerKeyUnder(key, stored);
    const evicted =
      bearerKey === guess
        ? tombstoned || this.tombstones.knows(bearerKey)
        : await this.tombstones.isEvicted(bearerKey);
    if (evicted) {
      void this.store.delete(key, stored.accessToken);
      return undefined;
    }
    this.storedBearerKeys.set(key, bearerKey, stored.expiresAt);
    return stored;
  }

  /** The bearer entry of `accessToken` while it lives, from this process or the store. */
  async bearer(accessToken: string): Promise<TokenSlot | undefined> {
    const key = this.fingerprinter.bearerKey(accessToken);
    const local = this.local.slot(key);
    if (local && this.clock.now() < local.freshUntil && local.token.accessToken === accessToken) return local;
    // The bearer key is the tombstone's key too: both are read at once, one round trip.
    const { entry: stored, tombstoned } = await this.store.getWithTombstone(key, key);
    if (stored && stored.accessToken === accessToken && this.clock.now() < stored.expiresAt) {
      if (!tombstoned && !this.tombstones.knows(key)) return this.hold(key, stored, stored.expiresAt);
      void this.store.delete(key, stored.accessToken);
    }
    return undefined;
  }

  /** The re-grant window tag of the credentials `accessToken` was granted to, when this cache handed it out. */
  async grantTagOf(accessToken: string): Promise<string | undefined> {
    const key = this.fingerprinter.bearerKey(accessToken);
    const entry = this.local.slot(key)?.token ?? (await this.store.get(key));
    return entry?.accessToken === accessToken ? entry.grantTag : undefined;
  }

  /** Holds a token read from the store in this process under `key`. */
  hold(key: string, token: CachedToken, freshUntil = this.lifetime.freshUntil(token)): TokenSlot {
    const slot = this.toSlot(key, token, freshUntil);
    if (!this.tombstones.knows(slot.bearerKey)) this.local.hold(slot);
    return slot;
  }

  /**
   * Caches a token just granted under `key` in every tier, with its bearer entry, when it has fresh life left. It
   * carries the recent verifiers of the token it replaces (this process's, else the store's), so that the secrets
   * of a rotation keep being served.
   */
  async save(key: string, granted: CachedToken): Promise<TokenSlot> {
    const previous = this.local.slot(key)?.token ?? (await this.store.get(key));
    const token = SecretRotation.carryOver(granted, previous);
    const freshUntil = this.lifetime.freshUntil(token);
    const ttl = freshUntil - this.clock.now();
    if (ttl <= 0 || this.tombstones.knows(this.bearerKeyOf(token.accessToken, token.expiresAt))) {
      return this.toSlot(key, token, token.expiresAt);
    }
    await this.store.set(key, token, ttl);
    await this.saveBearer(token);
    return this.hold(key, token, freshUntil);
  }

  /**
   * Caches `token` for `Authorization: Bearer` use: no verifier, no refresh token, until it expires. It carries the
   * re-grant window tag of the credentials it was granted to: `grantTag`, else a digest of `token.verifier`.
   */
  async saveBearer(token: CachedToken, grantTag?: string): Promise<void> {
    const ttl = token.expiresAt - this.clock.now();
    if (ttl <= this.lifetime.skewOf(token)) return;
    const key = this.bearerKeyOf(token.accessToken, token.expiresAt);
    if (this.tombstones.knows(key)) return;
    const entry: CachedToken = { ...token, verifier: '' };
    const tag =
      grantTag ?? (token.verifier === '' ? undefined : TokenFingerprinter.exemptionTag(token.verifier));
    if (tag !== undefined) entry.grantTag = tag;
    delete entry.recentVerifiers;
    delete entry.refreshToken;
    delete entry.refreshExpiresAt;
    await this.store.set(key, entry, ttl);
    this.hold(key, entry, token.expiresAt);
  }

  /** A slot for `token` that is not held anywhere (e.g. the answer to a `refresh_token` grant). */
  toSlot(key: string, token: CachedToken, freshUntil: number): TokenSlot {
    const refreshAt = token.verifier === '' ? Infinity : this.lifetime.refreshAt(token, freshUntil);
    const principal = toPrincipal(token);
    const bearerKey = this.bearerKeyUnder(key, token);
    return { key, bearerKey, token, principal, freshUntil, refreshAt };
  }

  /** The bearer key of `token` held under `key`: `key` itself for a bearer entry. */
  private bearerKeyUnder(key: string, token: CachedToken): string {
    return TokenFingerprinter.isBearerKey(key) ? key : this.bearerKeyOf(token.accessToken, token.expiresAt);
  }

  /** `TokenFingerprinter.bearerKey` of `accessToken`, remembered until it expires at `expiresAt` (epoch ms). */
  bearerKeyOf(accessToken: string, expiresAt: number): string {
    let bearerKey = this.bearerKeys.get(accessToken);
    if (bearerKey === undefined) {
      bearerKey = this.fingerprinter.bearerKey(accessToken);
      this.bearerKeys.set(accessToken, bearerKey, expiresAt);
    }
    return bearerKey;
  }
}
