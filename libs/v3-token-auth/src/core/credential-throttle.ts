import { MemoryCredentialThrottleStore } from '../store/memory/memory-credential-throttle.store.js';
import type { CredentialThrottleStore } from './credential-throttle.store.js';
import { InFlightCounts } from './in-flight-counts.js';

/** Options of {@link CredentialThrottle}. Every number has a default; see the README's Security model. */
export interface CredentialThrottleOptions {
  /** Wrong secrets one caller address may send (over every client id) per `addressWindowMs`. @default 10 */
  maxFailuresPerAddress?: number;
  /** Window of the per-address count, ms. @default 900000 (15 min) */
  addressWindowMs?: number;
  /**
   * Wrong secrets per client id (from every address) past which the client counts as under attack: its unknown
   * secrets are then let through only from addresses with fewer than `cleanAddressAllowance` failures. @default 20
   */
  maxFailuresPerClient?: number;
  /** Window of the per-client count, ms. @default 900000 (15 min) */
  clientWindowMs?: number;
  /**
   * Failures an address may have of its own and still try an unknown secret for a client under attack.
   * `0` stops every unknown secret of such a client. @default 3
   */
  cleanAddressAllowance?: number;
  /** How long a secret that obtained a token stays exempt, ms (env `TOKEN_KNOWN_GOOD_TTL_MS`). @default 604800000 (7 days) */
  knownGoodTtlMs?: number;
  /** Where counts live. @default a `MemoryCredentialThrottleStore` (this process only) */
  store?: CredentialThrottleStore;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * One attempt to authenticate: keyed hashes only, never a secret.
 * @property clientKey keyed hash of the client identity (e.g. the token fingerprint of token URL + client id).
 * @property addressKey keyed hash of the caller address the edge derived (`GATEWAY_TRUSTED_PROXIES`).
 * @property secretTag digest of the secret's verifier for this grant's identity (`TokenFingerprinter.exemptionTag`).
 * @property knownGoodTag digest of the secret's verifier for the client alone, the same whatever scope or resource
 *   the grant asks for (`TokenFingerprinter.secretsVerifier`): what the known-good exemption counts by.
 */
export interface CredentialAttempt {
  clientKey: string;
  addressKey: string;
  secretTag: string;
  knownGoodTag: string;
}

/** How soon to retry when only attempts still waiting for the issuer's answer stand in the way, ms. */
const UNANSWERED_RETRY_MS = 1000;

/** The key of the attempt's client at its caller address (the holds of unanswered attempts, the gate's memory). */
export function clientAtAddressKey(attempt: Pick<CredentialAttempt, 'clientKey' | 'addressKey'>): string {
  return `${attempt.clientKey}\u0000${attempt.addressKey}`;
}

/** Why an attempt may or may not go to the issuer. */
export type ThrottleDecision =
  | { allowed: true; reason: 'known_good' | 'under_limits' | 'clean_address' }
  | { allowed: false; reason: 'address' | 'client'; retryAfterMs: number };

/** What a caller's standing is, for the refused-client memory: whether a remembered refusal applies to it. */
export interface CallerStanding {
  /** The secret obtained a token within `knownGoodTtlMs`. */
  knownGood: boolean;
  /** Wrong secrets this address sent in its current window. */
  addressFailures: number;
}

/**
 * The wrong-secret throttle: counts per client id and per caller address, and decides so that an attacker who
 * knows a client id cannot lock its owner out.
 *
 * 1. A secret that obtained a token within `knownGoodTtlMs` always passes.
 * 2. An address past `maxFailuresPerAddress` is stopped, whatever client it names: the count blocks only that
 *    address.
 * 3. A client past `maxFailuresPerClient` (a count anyone can raise) never stops a known-good secret; it only slows
 *    unknown secrets to `cleanAddressAllowance` attempts per address per window.
 *
 * Ask `decide` before a grant (never on a cache hit), then report the issuer's answer with `recordFailure` or
 * `recordSuccess`, and `settle` the attempt.
 * @example
 * const decision = await throttle.decide({ clientKey, addressKey, secretTag, knownGoodTag });
 * if (!decision.allowed) throw new V3TooManyAttemptsException(decision.retryAfterMs / 1000, decision.reason);
 */
export class CredentialThrottle {
  /** Attempts let through whose answer has not been recorded, per client and per client at one address. */
  private readonly unanswered = new InFlightCounts();
  private readonly store: CredentialThrottleStore;
  private readonly maxPerAddress: number;
  private readonly addressWindowMs: number;
  private readonly maxPerClient: number;
  private readonly clientWindowMs: number;
  private readonly cleanAllowance: number;
  private readonly knownGoodTtlMs: number;
  private readonly now: () => number;

  constructor(options: CredentialThrottleOptions = {}) {
    this.now = options.now ?? Date.now;
    this.store = options.store ?? new MemoryCredentialThrottleStore({ now: this.now });
    this.maxPerAddress = options.maxFailuresPerAddress ?? 10;
    this.addressWindowMs = options.addressWindowMs ?? 15 * 60_000;
    this.maxPerClient = options.maxFailuresPerClient ?? 20;
    this.clientWindowMs = options.clientWindowMs ?? 15 * 60_000;
    this.cleanAllowance = options.cleanAddressAllowance ?? 3;
    this.knownGoodTtlMs = options.knownGoodTtlMs ?? 7 * 24 * 3_600_000;
  }

  /**
   * Whether `attempt` may go to the issuer now, and why. An attempt let through on the counts (not `known_good`) is
   * held until `settle`: it counts as a failure of its client, and of its client at its address, until its answer is
   * recorded, so that concurrent guesses cannot all pass before the first failure is counted. Distinct clients at one
   * address (a NAT, a proxy) hold nothing of each other's.
   */
  async decide(attempt: CredentialAttempt): Promise<ThrottleDecision> {
    if (await this.store.isKnownGood(attempt.clientKey, attempt.knownGoodTag)) {
      return { allowed: true, reason: 'known_good' };
    }
    const address = await this.store.read('address', attempt.addressKey);
    const client = await this.store.read('client', attempt.clientKey);
    // From here to the hold nothing awaits: no other decision runs in between.
    const atAddress = clientAtAddressKey(attempt);
    const addressCount = (address?.count ?? 0) + this.unanswered.of(atAddress);
    if (addressCount >= this.maxPerAddress) {
      return { allowed: false, reason: 'address', retryAfterMs: this.retryAfter(address) };
    }
    const clientCount = (client?.count ?? 0) + this.unanswered.of(attempt.clientKey);
    if (clientCount < this.maxPerClient || addressCount < this.cleanAllowance) {
      this.unanswered.add(atAddress);
      this.unanswered.add(attempt.clientKey);
      return { allowed: true, reason: clientCount < this.maxPerClient ? 'under_limits' : 'clean_address' };
    }
    const resetAt = Math.min(client?.resetAt ?? Infinity, address?.resetAt ?? Infinity);
    return { allowed: false, reason: 'client', retryAfterMs: this.retryAfter({ resetAt }) };
  }

  /** Ends the hold of an attempt `decide` let through on the counts, once its answer is recorded (or it never went). */
  settle(attempt: CredentialAttempt): void {
    this.unanswered.remove(clientAtAddressKey(attempt));
    this.unanswered.remove(attempt.clientKey);
  }

  /** The caller's standing, for `RefusedClientMemory.recall`. */
  async standing(attempt: CredentialAttempt): Promise<CallerStanding> {
    const [knownGood, address] = await Promise.all([
      this.store.isKnownGood(attempt.clientKey, attempt.knownGoodTag),
      this.store.read('address', attempt.addressKey),
    ]);
    return { knownGood, addressFailures: address?.count ?? 0 };
  }

  /** The issuer refused the secret (`invalid_client`, `unauthorized_client`, `invalid_grant`): count it twice over. */
  async recordFailure(attempt: CredentialAttempt): Promise<void> {
    await Promise.all([
      this.store.increment('client', attempt.clientKey, this.clientWindowMs),
      this.store.increment('address', attempt.addressKey, this.addressWindowMs),
    ]);
  }

  /**
   * The secret obtained a token: it passes for `knownGoodTtlMs`. Counts are left alone, so that a caller cannot
   * wipe its address's count with a client of its own.
   */
  async recordSuccess(attempt: Pick<CredentialAttempt, 'clientKey' | 'knownGoodTag'>): Promise<void> {
    await this.store.rememberKnownGood(attempt.clientKey, attempt.knownGoodTag, this.knownGoodTtlMs);
  }

  /** Until the window of `count` ends; a second while only unanswered attempts stand in the way. */
  private retryAfter(count: { resetAt: number } | undefined): number {
    return count === undefined || count.resetAt === Infinity
      ? UNANSWERED_RETRY_MS
      : this.remaining(count.resetAt);
  }

  private remaining(resetAt: number): number {
    return Math.max(0, resetAt - this.now());
  }
}
