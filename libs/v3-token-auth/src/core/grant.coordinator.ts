import { setTimeout as sleep } from 'node:timers/promises';
import { resolveRetryOptions } from '../issuer/retry-policy.js';
import type { V3GrantRequest, V3TokenClient } from '../issuer/v3-token.client.js';
import type { ResolvedV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import type { V3TokenAuthObserver } from '../module/v3-token-auth.observer.js';
import type { TokenLock } from '../store/token-store.interface.js';
import type { V3Credentials } from '../v3-token.interfaces.js';
import type { CredentialAttempt } from './credential-throttle.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import type { GrantGate } from './grant.gate.js';
import { withRenewedLease } from './lock-lease.js';
import type { TieredTokenCache } from './tiered-token.cache.js';
import { toCachedToken } from './token-response.mapper.js';
import type { TokenSlot } from './token-slot.js';

type LockOutcome = { lock: TokenLock } | { slot: TokenSlot } | { lock: undefined };

/** Whether a lock's lease grew between two readings: its holder renewed it (or a new holder took it). */
const renewed = (before: number | undefined, after: number | undefined): boolean =>
  before !== undefined && after !== undefined && after > before;

/** The grant request for `credentials`. */
export function toGrantRequest(credentials: V3Credentials): V3GrantRequest {
  return {
    grantType: credentials.grantType,
    clientId: credentials.clientId,
    clientSecret: credentials.clientSecret,
    username: credentials.username,
    password: credentials.password,
    scope: credentials.scope,
    resource: credentials.resource,
  };
}

/**
 * One grant per cache identity at a time: callers in this process share one flight (by verifier), and instances
 * sharing the store take its lock (renewing the lease while the issuer answers) or pick up the holder's entry,
 * waiting as long as the holder keeps renewing its lease.
 */
export class GrantCoordinator {
  private readonly flights = new Map<string, Promise<TokenSlot>>();
  /** The longest one grant can take: every attempt's queue wait and timeouts (head and body), and the backoffs. */
  private readonly longestGrantMs: number;

  constructor(
    private readonly options: ResolvedV3TokenAuthOptions,
    private readonly cache: TieredTokenCache,
    private readonly store: FailSoftTokenStore,
    private readonly gate: GrantGate,
    private readonly client: V3TokenClient,
    private readonly observer: V3TokenAuthObserver,
  ) {
    const { attempts, maxDelayMs } = resolveRetryOptions(options.retry);
    const attemptMs = options.issuerQueueWaitMs + 2 * options.timeoutMs;
    this.longestGrantMs = attempts * attemptMs + (attempts - 1) * maxDelayMs;
  }

  /**
   * The token of `credentials` under `key`, granted once however many callers and instances ask at once, behind the
   * grant gate (`callerAddress` as the edge derived it).
   */
  grant(
    key: string,
    verifier: string,
    credentials: V3Credentials,
    callerAddress?: string,
  ): Promise<TokenSlot> {
    const pending = this.flights.get(verifier);
    if (pending) {
      this.observer.singleFlightWait?.();
      return pending;
    }
    const attempt = this.gate.attemptOf({
      clientId: credentials.clientId,
      username: credentials.username,
      verifier,
      clientSecret: credentials.clientSecret,
      password: credentials.password,
      callerAddress,
    });
    const flight = this.grantAcrossInstances(key, verifier, credentials, attempt).finally(() =>
      this.flights.delete(verifier),
    );
    this.flights.set(verifier, flight);
    return flight;
  }

  private async grantAcrossInstances(
    key: string,
    verifier: string,
    credentials: V3Credentials,
    attempt: CredentialAttempt,
  ): Promise<TokenSlot> {
    const settle = await this.gate.admit(attempt, credentials.clientId);
    try {
      const outcome = await this.lockOrWait(key, verifier);
      if ('slot' in outcome) return outcome.slot;
      const { lock } = outcome;
      if (lock) {
        const grantedMeanwhile = await this.cache.freshStored(key, verifier);
        if (grantedMeanwhile) {
          await lock.release().catch(() => undefined);
          this.observer.lockWait?.('picked_up');
          return this.cache.hold(key, grantedMeanwhile);
        }
        this.observer.lockWait?.('acquired');
      }
      return await withRenewedLease(lock, this.options.lockLeaseMs, () =>
        this.grantFromIssuer(key, verifier, credentials, attempt),
      );
    } finally {
      settle();
    }
  }

  /**
   * Takes the lock, or waits for its holder's entry. The waiter grants itself (`lock: undefined`) once `lockWaitMs`
   * passed without the holder renewing its lease (it died, or the store cannot tell), or once a whole grant could
   * have run since it began to wait (`longestGrantMs`): while the holder renews, its grant is still running, and a
   * second grant would only double the issuer's load when it is slow.
   */
  private async lockOrWait(key: string, verifier: string): Promise<LockOutcome> {
    // The wait is real time (it sleeps), whatever clock the cache reads.
    const { lockWaitMs } = this.options;
    const began = performance.now();
    const cap = began + lockWaitMs + this.longestGrantMs;
    let patience = began + lockWaitMs;
    let leaseLeft: number | undefined;
    for (;;) {
      let lock: TokenLock | undefined;
      try {
        lock = await this.store.acquireLock(key, this.options.lockLeaseMs);
      } catch (error) {
        this.store.reportFailure('lock', error);
        this.observer.lockWait?.('fallback');
        return { lock: undefined };
      }
      if (lock) return { lock };
      const [granted, lease] = await Promise.all([
        this.cache.freshStored(key, verifier),
        this.store.lockTtlMs(key),
      ]);
      if (granted) {
        this.observer.lockWait?.('picked_up');
        return { slot: this.cache.hold(key, granted) };
      }
      const now = performance.now();
      if (renewed(leaseLeft, lease)) patience = Math.min(cap, now + lockWaitMs);
      leaseLeft = lease;
      if (now >= patience) {
        this.observer.lockWait?.('timeout');
        return { lock: undefined };
      }
      await sleep(20 + Math.random() * 30);
    }
  }

  private async grantFromIssuer(
    key: string,
    verifier: string,
    credentials: V3Credentials,
    attempt: CredentialAttempt,
  ): Promise<TokenSlot> {
    const regrant = await this.gate.spendRegrant(attempt, credentials.clientId);
    let response;
    try {
      response = await this.client.requestToken(toGrantRequest(credentials));
    } catch (error) {
      throw await this.gate.failed(attempt, error, regrant);
    }
    const slot = await this.cache.save(key, toCachedToken(response, credentials, verifier));
    await this.gate.granted(attempt);
    return slot;
  }
}
