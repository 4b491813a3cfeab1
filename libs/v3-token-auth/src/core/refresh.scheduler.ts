import type { V3TokenClient } from '../issuer/v3-token.client.js';
import type { ResolvedV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import type { V3TokenAuthObserver } from '../module/v3-token-auth.observer.js';
import type { TokenLock } from '../store/token-store.interface.js';
import type { V3Credentials, V3TokenRequestResponse } from '../v3-token.interfaces.js';
import type { V3Clock } from './clock.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import { toGrantRequest } from './grant.coordinator.js';
import { withRenewedLease } from './lock-lease.js';
import type { TieredTokenCache } from './tiered-token.cache.js';
import { toCachedToken } from './token-response.mapper.js';
import type { TokenSlot } from './token-slot.js';

/** First retry of a failed refresh-ahead, ms; doubled per failure, never past half the fresh time left. */
const FIRST_RETRY_MS = 500;

/**
 * Renews tokens past their refresh point in the background while the current token keeps serving: one renewal per
 * key in this process, one across instances (the store lock, its lease renewed while the issuer answers), a refresh
 * token spent before falling back to a new grant. A failed renewal is tried again with backoff until the token
 * stops being fresh.
 */
export class RefreshScheduler {
  private readonly renewing = new Set<string>();
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly options: ResolvedV3TokenAuthOptions,
    private readonly cache: TieredTokenCache,
    private readonly store: FailSoftTokenStore,
    private readonly client: V3TokenClient,
    private readonly observer: V3TokenAuthObserver,
    private readonly clock: V3Clock,
  ) {}

  /** Starts renewing `slot` when it is past its refresh point; `credentialsOf` gives the secret when needed. */
  refreshIfDue(slot: TokenSlot, credentialsOf: () => V3Credentials | undefined): void {
    if (this.clock.now() < slot.refreshAt || this.renewing.has(slot.key)) return;
    this.renewing.add(slot.key);
    const dueAgain = slot.refreshAt;
    slot.refreshAt = Infinity;
    this.observer.refreshAhead?.('started');
    void this.renew(slot, credentialsOf)
      .catch(() => false)
      .then((renewed) => {
        this.observer.refreshAhead?.(renewed ? 'success' : 'failed');
        if (renewed) this.failures.delete(slot.key);
        else this.scheduleRetry(slot, dueAgain);
      })
      .finally(() => this.renewing.delete(slot.key));
  }

  /** Whether a renewal of `key` is running in this process. */
  isRenewing(key: string): boolean {
    return this.renewing.has(key);
  }

  private scheduleRetry(slot: TokenSlot, dueAgain: number): void {
    const failures = (this.failures.get(slot.key) ?? 0) + 1;
    this.failures.set(slot.key, failures);
    const now = this.clock.now();
    const backoff = Math.min(FIRST_RETRY_MS * 2 ** (failures - 1), Math.max(0, (slot.freshUntil - now) / 2));
    slot.refreshAt = Math.max(dueAgain, now + backoff);
  }

  private async renew(slot: TokenSlot, credentialsOf: () => V3Credentials | undefined): Promise<boolean> {
    let lock: TokenLock | undefined;
    try {
      lock = await this.store.acquireLock(slot.key, this.options.lockLeaseMs);
      if (!lock) return false;
    } catch (error) {
      this.store.reportFailure('lock', error);
      lock = undefined;
    }
    return withRenewedLease(lock, this.options.lockLeaseMs, async () => {
      const stored = await this.cache.freshStored(slot.key, slot.token.verifier);
      if (stored && stored.accessToken !== slot.token.accessToken && stored.issuedAt > slot.token.issuedAt) {
        this.cache.hold(slot.key, stored);
        return true;
      }
      const credentials = credentialsOf();
      const response =
        (await this.spendRefreshToken(slot, credentials)) ?? (await this.grantAgain(credentials));
      if (!response) return false;
      const renewed = toCachedToken(response, slot.token, slot.token.verifier);
      await this.cache.save(slot.key, renewed);
      return true;
    });
  }

  private async spendRefreshToken(
    slot: TokenSlot,
    credentials: V3Credentials | undefined,
  ): Promise<V3TokenRequestResponse | undefined> {
    const current = slot.token;
    if (!current.refreshToken || (current.refreshExpiresAt ?? Infinity) <= this.clock.now()) return undefined;
    return this.client
      .requestToken({
        grantType: 'refresh_token',
        clientId: credentials?.clientId ?? current.clientId,
        clientSecret: credentials?.clientSecret,
        refreshToken: current.refreshToken,
        scope: credentials?.scope,
        resource: credentials?.resource,
      })
      .catch(() => undefined);
  }

  private grantAgain(credentials: V3Credentials | undefined): Promise<V3TokenRequestResponse | undefined> {
    if (!credentials) return Promise.resolve(undefined);
    return this.client.requestToken(toGrantRequest(credentials));
  }
}
