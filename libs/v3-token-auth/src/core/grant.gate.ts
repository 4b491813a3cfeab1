import { TokenEndpointError } from '../issuer/token-endpoint.error.js';
import { toV3Exception } from '../issuer/token-endpoint-error.mapper.js';
import type { ResolvedV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import type { V3TokenAuthObserver } from '../module/v3-token-auth.observer.js';
import {
  V3ColdGrantLimitException,
  V3IssuerThrottledException,
  V3ReauthCooldownException,
  V3TooManyAttemptsException,
} from '../v3-token.exceptions.js';
import type { V3Clock } from './clock.js';
import { MemoryCredentialThrottleStore } from '../store/memory/memory-credential-throttle.store.js';
import { SharedCredentialThrottleStore } from '../store/shared-credential-throttle.store.js';
import { ColdGrantLimiter } from './cold-grant.limiter.js';
import { clientAtAddressKey, CredentialThrottle, type CredentialAttempt } from './credential-throttle.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import { IssuerBackoffMemory } from './issuer-backoff.memory.js';
import { ReauthWindows } from './reauth-windows.js';
import { RefusedClientMemory } from './refused-client.memory.js';
import { TokenFingerprinter } from './token-fingerprint.js';

/** What `admit` hands back for an attempt the throttle holds nothing for (a known-good secret). */
const NOTHING_HELD = (): void => {};

/** Backoff after an issuer 429 that named no `Retry-After`, ms. */
const DEFAULT_ISSUER_BACKOFF_MS = 5000;

/** Who asks for a grant: the client (and user) named, the secrets presented, and where the request came from. */
export interface GrantCaller {
  /** Client id named by the request. */
  clientId: string;
  /** Username of a `password` grant; counted together with the client id. */
  username?: string;
  /**
   * Keyed hash of the secret(s) presented for this grant's cache identity (`TokenFingerprinter.verifier`): what the
   * refused-secret memory and the re-grant windows of these credentials count by. Without one (a refresh grant,
   * which has no cache identity) they count by the secrets' own verifier.
   */
  verifier?: string;
  /** The client secret presented; only its keyed hash is kept (`TokenFingerprinter.secretsVerifier`). */
  clientSecret?: string;
  /** The user's password of a `password` grant; only its keyed hash is kept. */
  password?: string;
  /** The refresh token of a `refresh_token` grant: the credential it presents; only its keyed hash is kept. */
  refreshToken?: string;
  /** Caller address as the edge derived it; without one the client's own key stands in for it. */
  callerAddress?: string;
}

/**
 * The single gate every grant passes (client_credentials, password and refresh_token, from the guard or
 * `POST /token`), asked only on a cache miss, never on the warm path. Before a grant: the issuer's 429 for this
 * client is honoured until its `Retry-After`, the issuer's recent refusal of this secret (or `invalid_client` for
 * this client id) is answered from memory, the {@link CredentialThrottle} decides per client and caller address, and the
 * {@link ColdGrantLimiter} caps the grants one address starts per minute over the fleet. Right before the issuer is
 * called (`spendRegrant`, once the grant lock is held), the {@link ReauthWindows} allow one re-grant per window after
 * a downstream refused these credentials' token. After it: only a `credential` refusal
 * is remembered and counted; a `request` refusal goes back to the caller untouched. Every issuer failure leaves the
 * gate as the module's HTTP exception (`toV3Exception`).
 */
export class GrantGate {
  private readonly throttle: CredentialThrottle;
  private readonly refusedSecrets: RefusedClientMemory<TokenEndpointError>;
  /**
   * The issuer's `invalid_client`, remembered for the client at one caller address (`clientAtAddressKey`): a flood of
   * guesses from one address costs the issuer one call per `invalidCredentialsTtlMs`, and the owner at another
   * address is never answered from the attacker's refusal.
   */
  private readonly refusedClients: RefusedClientMemory<TokenEndpointError>;
  private readonly issuerBackoff: IssuerBackoffMemory;
  private readonly coldGrants: ColdGrantLimiter;
  private readonly reauthWindows: ReauthWindows;

  constructor(
    options: ResolvedV3TokenAuthOptions,
    private readonly fingerprinter: TokenFingerprinter,
    private readonly observer: V3TokenAuthObserver,
    clock: V3Clock,
    sharedStore: FailSoftTokenStore,
  ) {
    const now = (): number => clock.now();
    const maxEntries = options.memoryCacheMaxEntries;
    const local = new MemoryCredentialThrottleStore({ maxEntries, now });
    this.throttle = new CredentialThrottle({
      store: new SharedCredentialThrottleStore(local, sharedStore, now),
      maxFailuresPerAddress: options.maxFailedAttempts,
      addressWindowMs: options.failedAttemptsWindowMs,
      maxFailuresPerClient: 2 * options.maxFailedAttempts,
      clientWindowMs: options.failedAttemptsWindowMs,
      knownGoodTtlMs: options.knownGoodTtlMs,
      now,
    });
    const refusals = { ttlMs: options.invalidCredentialsTtlMs, maxEntries, now };
    this.refusedSecrets = new RefusedClientMemory(refusals);
    this.refusedClients = new RefusedClientMemory(refusals);
    this.issuerBackoff = new IssuerBackoffMemory({ maxEntries, now });
    this.coldGrants = new ColdGrantLimiter(
      {
        perAddressPerMinute: options.coldGrantsPerAddressPerMinute,
        // Half of the issuer's calls and queue: one address's burst leaves the other half to everyone else.
        perAddressAtOnce: Math.max(1, Math.ceil((options.connections + options.issuerQueueSize) / 2)),
        maxEntries,
        now,
      },
      sharedStore,
    );
    this.reauthWindows = new ReauthWindows(
      { cooldownMs: options.reauthCooldownMs, maxEntries, now },
      sharedStore,
    );
  }

  /**
   * The throttle's view of `caller`: keyed hashes only. Its known-good tag is the same for every scope and resource
   * the caller asks for, so a secret that obtained a token for one route is known-good on every other.
   */
  attemptOf(caller: GrantCaller): CredentialAttempt {
    const clientKey = this.fingerprinter.clientKey(caller.clientId, caller.username);
    // A grant presents a password or a refresh token, never both: one slot of the verifier holds either.
    const secrets = this.fingerprinter.secretsVerifier(
      clientKey,
      caller.clientSecret,
      caller.password ?? caller.refreshToken,
    );
    return {
      clientKey,
      addressKey:
        caller.callerAddress === undefined || caller.callerAddress === ''
          ? clientKey
          : this.fingerprinter.addressKey(caller.callerAddress),
      secretTag: TokenFingerprinter.exemptionTag(caller.verifier ?? secrets),
      knownGoodTag: TokenFingerprinter.exemptionTag(secrets),
    };
  }

  /**
   * Resolves when the grant may go to the issuer, with the function that ends the throttle's hold on the attempt
   * (`CredentialThrottle.decide`): call it once, after `failed` or `granted`, or when the grant does not go. Throws
   * 429 while the issuer's `Retry-After` for this client runs (unless the secret is known-good), the issuer's recent
   * refusal of this secret or client id, 429 when the throttle stops the attempt, and 429 when the caller address
   * spent its cold grants of the minute.
   */
  async admit(attempt: CredentialAttempt, clientId: string): Promise<() => void> {
    const standing = await this.throttle.standing(attempt);
    // A known-good secret is not held back by a 429 that someone else's wrong secrets may have drawn from the issuer:
    // if the issuer throttles the client itself, it says so again, for this secret.
    const backoffMs = standing.knownGood ? 0 : this.issuerBackoff.remainingMs(attempt.clientKey);
    if (backoffMs > 0) {
      this.observer.grantRefused?.('issuer_throttled', clientId);
      throw new V3IssuerThrottledException(backoffMs / 1000);
    }
    const refusal =
      this.refusedSecrets.recall(attempt.secretTag, standing) ??
      this.refusedClients.recall(clientAtAddressKey(attempt), standing);
    if (refusal) throw toV3Exception(refusal);
    const decision = await this.throttle.decide(attempt);
    if (!decision.allowed) {
      this.observer.throttled?.(clientId, decision.reason);
      throw new V3TooManyAttemptsException(decision.retryAfterMs / 1000, decision.reason);
    }
    if (decision.reason === 'known_good') return NOTHING_HELD;
    const settleThrottle = (): void => this.throttle.settle(attempt);
    const cold = await this.coldGrants.take(attempt.addressKey).catch((error: unknown) => {
      settleThrottle();
      throw error;
    });
    if (!cold.allowed) {
      settleThrottle();
      this.observer.grantRefused?.('cold_grant_limit', clientId);
      throw new V3ColdGrantLimitException(cold.retryAfterMs / 1000);
    }
    return () => {
      settleThrottle();
      this.coldGrants.release(attempt.addressKey);
    };
  }

  /**
   * A downstream refused a token granted to the credentials whose window tag is `tag`
   * (`TokenFingerprinter.exemptionTag` of their verifier): opens their re-grant window (see {@link ReauthWindows}) on
   * every instance sharing the store.
   */
  async refusedDownstream(tag: string): Promise<void> {
    await this.reauthWindows.open(tag);
  }

  /**
   * Called right before the grant of `attempt` goes to the issuer: throws 401 (`V3ReauthCooldownException`) when a
   * downstream refused these credentials' token and the window's re-grant is spent.
   * @returns whether this grant spent the re-grant (pass it to `failed`, which gives it back when the issuer fails)
   */
  async spendRegrant(attempt: CredentialAttempt, clientId: string): Promise<boolean> {
    const window = await this.reauthWindows.spend(attempt.secretTag);
    if (window.allowed) return window.regrant;
    this.observer.grantRefused?.('reauth_cooldown', clientId);
    throw new V3ReauthCooldownException(window.retryAfterMs / 1000);
  }

  /** Runs `grant` behind the gate and reports its outcome (see `failed` and `granted`). */
  async pass<T>(attempt: CredentialAttempt, clientId: string, grant: () => Promise<T>): Promise<T> {
    const settle = await this.admit(attempt, clientId);
    try {
      const regrant = await this.spendRegrant(attempt, clientId);
      let granted: T;
      try {
        granted = await grant();
      } catch (error) {
        throw await this.failed(attempt, error, regrant);
      }
      await this.granted(attempt);
      return granted;
    } finally {
      settle();
    }
  }

  /**
   * A grant behind `attempt` failed with `error`. A refused secret is remembered (by secret, and for `invalid_client`
   * by client id) and counted; an issuer 429 holds this client back until its `Retry-After`; nothing else is kept.
   * A re-grant the grant spent (`regrant`) is given back unless the issuer refused the secret.
   * @returns the error to throw: the module's HTTP exception for it.
   */
  async failed(attempt: CredentialAttempt, error: unknown, regrant = false): Promise<unknown> {
    const refusedSecret = error instanceof TokenEndpointError && error.kind === 'credential';
    if (regrant && !refusedSecret) await this.reauthWindows.refund(attempt.secretTag);
    if (error instanceof TokenEndpointError) {
      if (error.kind === 'credential') {
        this.refusedSecrets.remember(attempt.secretTag, error);
        // Answered to other secrets of the client later: without the issuer's description of this one's refusal.
        if (error.error === 'invalid_client')
          this.refusedClients.remember(
            clientAtAddressKey(attempt),
            new TokenEndpointError({ kind: error.kind, status: error.status, error: error.error }),
          );
        await this.throttle.recordFailure(attempt);
      } else if (error.kind === 'throttled-by-issuer') {
        const delayMs =
          error.retryAfterSeconds === undefined ? DEFAULT_ISSUER_BACKOFF_MS : error.retryAfterSeconds * 1000;
        this.issuerBackoff.remember(attempt.clientKey, delayMs);
      }
    }
    return toV3Exception(error);
  }

  /** The secret behind `attempt` obtained a token (here or, read from the shared store, elsewhere). */
  async granted(attempt: CredentialAttempt): Promise<void> {
    this.refusedSecrets.forget(attempt.secretTag);
    this.refusedClients.forget(clientAtAddressKey(attempt));
    await this.throttle.recordSuccess(attempt);
  }
}
