import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import { FailureCountTable } from './failure-count.table.js';
import { InFlightCounts } from './in-flight-counts.js';

/** One minute: the window of {@link ColdGrantLimiter}. */
const MINUTE_MS = 60_000;
/** How soon to retry a cold grant refused because its address had `perAddressAtOnce` in flight, ms. */
const AT_ONCE_RETRY_MS = 1000;

/** Options of {@link ColdGrantLimiter}. */
export interface ColdGrantLimiterOptions {
  /** Cold grants one caller address may start per minute; 0 turns this limit and `perAddressAtOnce` off. @default 120 */
  perAddressPerMinute?: number;
  /**
   * Cold grants of one caller address in flight at once, in this process: its share of the issuer's calls and queue,
   * so that one address's burst cannot fill them for every other caller. @default 40
   */
  perAddressAtOnce?: number;
  /** Most addresses counted in process at once (see {@link FailureCountTable}). @default 10000 */
  maxEntries?: number;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * Caps the grants one caller address may send to the issuer per minute, over every instance sharing the store (the
 * store's `countInWindow`; in this process while the store keeps no counts or fails), and how many of them it may
 * have in flight at once in this process (`perAddressAtOnce`: its share of the issuer's calls and queue). Counted
 * when a grant is admitted, so a burst of concurrent requests is capped too, before any answer comes back. Grants of known-good
 * secrets and requests that join a grant in flight are not counted by the gate. In process, counts live in a
 * {@link FailureCountTable}, so a flood of addresses cannot erase a busy address's count.
 * @example
 * const decision = await limiter.take(addressKey);
 * if (!decision.allowed) throw new V3ColdGrantLimitException(decision.retryAfterMs / 1000);
 */
export class ColdGrantLimiter {
  private readonly table: FailureCountTable;
  private readonly limit: number;
  private readonly atOnce: number;
  /** Cold grants in flight per address (`take` allowed, `release` not yet called). */
  private readonly inFlight = new InFlightCounts();

  constructor(
    options: ColdGrantLimiterOptions = {},
    private readonly shared?: FailSoftTokenStore,
  ) {
    this.limit = Math.max(0, Math.floor(options.perAddressPerMinute ?? 120));
    this.atOnce = Math.max(1, Math.floor(options.perAddressAtOnce ?? 40));
    this.table = new FailureCountTable({ maxEntries: options.maxEntries, now: options.now });
  }

  /**
   * Counts one cold grant of `addressKey`; not allowed past the limit of the minute (with the ms until its window
   * ends) or while the address already has `perAddressAtOnce` in flight (retry in a second). An allowed grant holds
   * its place in flight until `release`.
   */
  async take(addressKey: string): Promise<{ allowed: true } | { allowed: false; retryAfterMs: number }> {
    if (this.limit === 0) return { allowed: true };
    // Before the count of the minute too, so that a grant refused for being one too many at once spends none of it.
    if (this.inFlight.of(addressKey) >= this.atOnce)
      return { allowed: false, retryAfterMs: AT_ONCE_RETRY_MS };
    const shared = await this.shared?.countInWindow(`cold.${addressKey}`, MINUTE_MS);
    const window = shared ?? this.table.countInWindow(addressKey, MINUTE_MS);
    if (window.count > this.limit) return { allowed: false, retryAfterMs: window.resetInMs };
    // Again after the count's await, in which other grants of the address may have taken the last places.
    if (this.inFlight.of(addressKey) >= this.atOnce)
      return { allowed: false, retryAfterMs: AT_ONCE_RETRY_MS };
    this.inFlight.add(addressKey);
    return { allowed: true };
  }

  /** The cold grant `take` allowed for `addressKey` is over (granted, refused or failed). */
  release(addressKey: string): void {
    if (this.limit !== 0) this.inFlight.remove(addressKey);
  }
}
