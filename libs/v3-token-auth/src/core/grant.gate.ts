import type { ResolvedV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import type { V3TokenAuthObserver } from '../module/v3-token-auth.observer.js';
import { V3InvalidCredentialsException, V3TooManyAttemptsException } from '../v3-token.exceptions.js';
import type { V3Clock } from './clock.js';
import { MemoryCredentialThrottleStore } from '../store/memory/memory-credential-throttle.store.js';
import { SharedCredentialThrottleStore } from '../store/shared-credential-throttle.store.js';
import { CredentialThrottle, type CredentialAttempt } from './credential-throttle.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import { RefusedClientMemory } from './refused-client.memory.js';
import { TokenFingerprinter } from './token-fingerprint.js';

/** Who asks for a grant: the client (and user) named, the secret's verifier, and where the request came from. */
export interface GrantCaller {
  /** Client id named by the request. */
  clientId: string;
  /** Username of a `password` grant; counted together with the client id. */
  username?: string;
  /** Keyed hash of the secret(s) presented (`TokenFingerprinter.verifier`). */
  verifier: string;
  /** Caller address as the edge derived it; without one the client's own key stands in for it. */
  callerAddress?: string;
}

/**
 * The single gate every grant passes (client_credentials, password and refresh_token, from the guard or
 * `POST /token`): the issuer's recent refusal of the same secret is answered from memory, the
 * {@link CredentialThrottle} decides per client and caller address, and the issuer's answer is reported back.
 * Asked only on a cache miss, never on the warm path.
 */
export class GrantGate {
  private readonly throttle: CredentialThrottle;
  private readonly refusals: RefusedClientMemory<V3InvalidCredentialsException>;

  constructor(
    options: ResolvedV3TokenAuthOptions,
    private readonly fingerprinter: TokenFingerprinter,
    private readonly observer: V3TokenAuthObserver,
    clock: V3Clock,
    sharedStore: FailSoftTokenStore,
  ) {
    const now = (): number => clock.now();
    const local = new MemoryCredentialThrottleStore({ maxEntries: options.memoryCacheMaxEntries, now });
    this.throttle = new CredentialThrottle({
      store: new SharedCredentialThrottleStore(local, sharedStore, now),
      maxFailuresPerAddress: options.maxFailedAttempts,
      addressWindowMs: options.failedAttemptsWindowMs,
      maxFailuresPerClient: 2 * options.maxFailedAttempts,
      clientWindowMs: options.failedAttemptsWindowMs,
      knownGoodTtlMs: options.knownGoodTtlMs,
      now,
    });
    this.refusals = new RefusedClientMemory({
      ttlMs: options.invalidCredentialsTtlMs,
      maxEntries: options.memoryCacheMaxEntries,
      now,
    });
  }

  /** The throttle's view of `caller`: keyed hashes only. */
  attemptOf(caller: GrantCaller): CredentialAttempt {
    const clientKey = this.fingerprinter.clientKey(caller.clientId, caller.username);
    return {
      clientKey,
      addressKey:
        caller.callerAddress === undefined || caller.callerAddress === ''
          ? clientKey
          : this.fingerprinter.addressKey(caller.callerAddress),
      secretTag: TokenFingerprinter.exemptionTag(caller.verifier),
    };
  }

  /**
   * Throws the issuer's recent refusal of this very secret, or 429 when the throttle stops the attempt; resolves
   * when the grant may go to the issuer.
   */
  async admit(attempt: CredentialAttempt, clientId: string): Promise<void> {
    const refusal = this.refusals.recall(attempt.secretTag, await this.throttle.standing(attempt));
    if (refusal) throw refusal;
    const decision = await this.throttle.decide(attempt);
    if (decision.allowed) return;
    this.observer.throttled?.(clientId, decision.reason);
    throw new V3TooManyAttemptsException(decision.retryAfterMs / 1000);
  }

  /** Runs `grant` behind the gate and reports its outcome: a refused secret is remembered and counted. */
  async pass<T>(attempt: CredentialAttempt, clientId: string, grant: () => Promise<T>): Promise<T> {
    await this.admit(attempt, clientId);
    let granted: T;
    try {
      granted = await grant();
    } catch (error) {
      await this.failed(attempt, error);
      throw error;
    }
    await this.granted(attempt);
    return granted;
  }

  /** A grant behind `attempt` failed with `error`: when the issuer refused the secret, remember and count it. */
  async failed(attempt: CredentialAttempt, error: unknown): Promise<void> {
    if (!(error instanceof V3InvalidCredentialsException)) return;
    this.refusals.remember(attempt.secretTag, error);
    await this.throttle.recordFailure(attempt);
  }

  /** The secret behind `attempt` obtained a token (here or, read from the shared store, elsewhere). */
  async granted(attempt: CredentialAttempt): Promise<void> {
    this.refusals.forget(attempt.secretTag);
    await this.throttle.recordSuccess(attempt);
  }
}
