import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import { FailureCountTable } from './failure-count.table.js';

/** One minute: the window of {@link ColdGrantLimiter}. */
const MINUTE_MS = 60_000;

/** Options of {@link ColdGrantLimiter}. */
export interface ColdGrantLimiterOptions {
  /** Cold grants one caller address may start per minute; 0 turns the limit off. @default 120 */
  perAddressPerMinute?: number;
  /** Most addresses counted in process at once (see {@link FailureCountTable}). @default 10000 */
  maxEntries?: number;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * Caps the grants one caller address may send to the issuer per minute, over every instance sharing the store (the
 * store's `countInWindow`; in this process while the store keeps no counts or fails). Counted when a grant is
 * admitted, so a burst of concurrent requests is capped too, before any answer comes back. Grants of known-good
 * secrets and requests that join a grant in flight are not counted by the gate. In process, counts live in a
 * {@link FailureCountTable}, so a flood of addresses cannot erase a busy address's count.
 * @example
 * const decision = await limiter.take(addressKey);
 * if (!decision.allowed) throw new V3ColdGrantLimitException(decision.retryAfterMs / 1000);
 */
export class ColdGrantLimiter {
  private readonly table: FailureCountTable;
  private readonly limit: number;

  constructor(
    options: ColdGrantLimiterOptions = {},
    private readonly shared?: FailSoftTokenStore,
  ) {
    this.limit = Math.max(0, Math.floor(options.perAddressPerMinute ?? 120));
    this.table = new FailureCountTable({ maxEntries: options.maxEntries, now: options.now });
  }

  /** Counts one cold grant of `addressKey`; not allowed past the limit, with the ms until its window ends. */
  async take(addressKey: string): Promise<{ allowed: true } | { allowed: false; retryAfterMs: number }> {
    if (this.limit === 0) return { allowed: true };
    const shared = await this.shared?.countInWindow(`cold.${addressKey}`, MINUTE_MS);
    const window = shared ?? this.table.countInWindow(addressKey, MINUTE_MS);
    if (window.count <= this.limit) return { allowed: true };
    return { allowed: false, retryAfterMs: window.resetInMs };
  }
}
