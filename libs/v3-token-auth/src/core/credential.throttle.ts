import type { ResolvedV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import type { V3TokenAuthObserver } from '../module/v3-token-auth.observer.js';
import { BoundedTtlCache } from '../store/memory/memory-token.store.js';
import type { CachedToken } from '../store/token-store.interface.js';
import { V3InvalidCredentialsException, V3TooManyAttemptsException } from '../v3-token.exceptions.js';
import type { V3Clock } from './clock.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import { TokenFingerprinter } from './token-fingerprint.js';

interface FailureWindow {
  count: number;
  resetAt: number;
}

/**
 * Slows brute force per client: a refused secret is answered from memory for `invalidCredentialsTtlMs`, and after
 * `maxFailedAttempts` refusals in a window a client gets 429 before any grant, counted in this process and, when the
 * store keeps shared counts, over every instance. A secret that recently obtained a token stays exempt, so a flood
 * of wrong secrets cannot lock its owner out. Only credential failures are recorded here, never request failures.
 */
export class CredentialThrottle {
  private readonly refusals: BoundedTtlCache<V3InvalidCredentialsException>;
  private readonly failures: BoundedTtlCache<FailureWindow>;
  private readonly exemptVerifiers: BoundedTtlCache<string>;

  constructor(
    private readonly options: ResolvedV3TokenAuthOptions,
    private readonly store: FailSoftTokenStore,
    private readonly observer: V3TokenAuthObserver,
    private readonly clock: V3Clock,
  ) {
    const maxEntries = options.memoryCacheMaxEntries;
    const now = () => clock.now();
    this.refusals = new BoundedTtlCache({ maxEntries, now });
    this.failures = new BoundedTtlCache({ maxEntries, now });
    this.exemptVerifiers = new BoundedTtlCache({ maxEntries, now });
  }

  /** Throws the issuer's recent refusal of the secret behind `verifier`, if there is one. */
  rejectRecentlyRefused(verifier: string): void {
    const refusal = this.refusals.get(verifier);
    if (refusal) throw refusal;
  }

  /** Throws 429 when this process counted too many wrong secrets for `key` and `verifier` is not exempt. */
  checkLocal(key: string, verifier: string, clientId: string): void {
    const window = this.failures.get(key);
    if (!window || window.count < this.options.maxFailedAttempts) return;
    if (this.exemptVerifiers.get(key) === verifier) return;
    this.observer.throttled?.(clientId);
    throw new V3TooManyAttemptsException((window.resetAt - this.clock.now()) / 1000);
  }

  /** Throws 429 when every instance together counted too many wrong secrets; asked only before a grant. */
  async checkShared(key: string, verifier: string, clientId: string): Promise<void> {
    if (this.exemptVerifiers.get(key) === verifier) return;
    const state = await this.store.throttleState(key);
    if (state === undefined || state.failures < this.options.maxFailedAttempts) return;
    const tag = TokenFingerprinter.exemptionTag(verifier);
    if (state.good !== undefined && TokenFingerprinter.sameVerifier(state.good, tag)) return;
    this.observer.throttled?.(clientId);
    throw new V3TooManyAttemptsException(state.resetInMs / 1000);
  }

  /** Records the issuer's refusal of a secret: answered from memory for a while and counted. */
  async recordRefusal(key: string, verifier: string, refusal: V3InvalidCredentialsException): Promise<void> {
    const now = this.clock.now();
    this.refusals.set(verifier, refusal, now + this.options.invalidCredentialsTtlMs);
    const windowMs = this.options.failedAttemptsWindowMs;
    const window = this.failures.get(key) ?? { count: 0, resetAt: now + windowMs };
    window.count += 1;
    this.failures.set(key, window, window.resetAt);
    await this.store.countFailure(key, windowMs);
  }

  /** A secret obtained `token`: this process's count ends and every instance learns the secret is exempt. */
  async recordGrant(key: string, token: CachedToken): Promise<void> {
    this.failures.delete(key);
    this.exempt(key, token);
    if (token.verifier === '') return;
    const ttl = this.exemptUntil(token) - this.clock.now();
    await this.store.rememberGood(key, TokenFingerprinter.exemptionTag(token.verifier), ttl);
  }

  /**
   * The secret that obtained `token` passes this process's throttle until a window after the token expires, so its
   * owner is not locked out when the token has to be renewed.
   */
  exempt(key: string, token: CachedToken): void {
    if (token.verifier !== '') this.exemptVerifiers.set(key, token.verifier, this.exemptUntil(token));
  }

  private exemptUntil(token: CachedToken): number {
    return Math.max(this.clock.now(), token.expiresAt) + this.options.failedAttemptsWindowMs;
  }
}
