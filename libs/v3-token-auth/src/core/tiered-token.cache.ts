import type { CachedToken } from '../store/token-store.interface.js';
import type { V3Principal } from '../v3-token.interfaces.js';
import type { V3Clock } from './clock.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import type { LocalTokenCache } from './local-token.cache.js';
import { SecretRotation } from './secret-rotation.js';
import type { TokenFingerprinter } from './token-fingerprint.js';
import type { TokenLifetime } from './token-lifetime.js';
import { toPrincipal } from './token-response.mapper.js';
import type { TokenSlot } from './token-slot.js';

/**
 * The two cache tiers together: the in-process layer in front of the shared store. Reads check freshness (see
 * `TokenLifetime`) and that the token serves the caller's secret (`SecretRotation`); writes go to the store, the
 * token's bearer entry, and this process, a new grant carrying the verifiers of the token it replaces.
 */
export class TieredTokenCache {
  private readonly principalKeys = new WeakMap<V3Principal, string>();

  constructor(
    readonly local: LocalTokenCache,
    private readonly store: FailSoftTokenStore,
    private readonly fingerprinter: TokenFingerprinter,
    private readonly lifetime: TokenLifetime,
    private readonly clock: V3Clock,
  ) {}

  /** The in-process slot of `key` if it is fresh and serves the secret behind `verifier`. */
  freshLocal(key: string, verifier: string): TokenSlot | undefined {
    const slot = this.local.slot(key);
    if (slot === undefined || this.clock.now() >= slot.freshUntil) return undefined;
    return SecretRotation.serves(slot.token, verifier) ? slot : undefined;
  }

  /** The stored entry of `key` if it is fresh and serves the secret behind `verifier`. */
  async freshStored(key: string, verifier: string): Promise<CachedToken | undefined> {
    const stored = await this.store.get(key);
    if (!stored || this.clock.now() >= this.lifetime.freshUntil(stored)) return undefined;
    return SecretRotation.serves(stored, verifier) ? stored : undefined;
  }

  /** The bearer entry of `accessToken` while it lives, from this process or the store. */
  async bearer(accessToken: string): Promise<TokenSlot | undefined> {
    const key = this.fingerprinter.bearerKey(accessToken);
    const local = this.local.slot(key);
    if (local && this.clock.now() < local.freshUntil && local.token.accessToken === accessToken) return local;
    const stored = await this.store.get(key);
    if (stored && stored.accessToken === accessToken && this.clock.now() < stored.expiresAt) {
      return this.hold(key, stored, stored.expiresAt);
    }
    return undefined;
  }

  /** Holds a token read from the store in this process under `key`. */
  hold(key: string, token: CachedToken, freshUntil = this.lifetime.freshUntil(token)): TokenSlot {
    const slot = this.toSlot(key, token, freshUntil);
    this.local.hold(slot);
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
    if (ttl <= 0) return this.toSlot(key, token, token.expiresAt);
    await this.store.set(key, token, ttl);
    await this.saveBearer(token);
    return this.hold(key, token, freshUntil);
  }

  /** Caches `token` for `Authorization: Bearer` use: no verifier, no refresh token, until it expires. */
  async saveBearer(token: CachedToken): Promise<void> {
    const ttl = token.expiresAt - this.clock.now();
    if (ttl <= this.lifetime.skewOf(token)) return;
    const key = this.fingerprinter.bearerKey(token.accessToken);
    const entry: CachedToken = { ...token, verifier: '' };
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
    if (key !== '') this.principalKeys.set(principal, key);
    return { key, token, principal, freshUntil, refreshAt };
  }

  /** The cache key a principal handed out by this cache was found under. */
  keyOf(principal: V3Principal): string | undefined {
    return this.principalKeys.get(principal);
  }
}
