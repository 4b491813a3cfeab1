import type { CountWindow } from '../store/token-store.interface.js';

/** A failure count and the epoch ms its window ends at. */
export interface FailureWindow {
  count: number;
  resetAt: number;
}

/** Options of {@link FailureCountTable}. */
export interface FailureCountTableOptions {
  /** Most keys held at once. @default 10000 */
  maxEntries?: number;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * Bounded failure counts in fixed windows, where new keys cannot push out high counts.
 *
 * A key seen once lives among the *singles*; its second failure promotes it to the *repeated*. A full table makes
 * room by dropping an expired entry, then the oldest single; when every entry is repeated, a new key is not held
 * (its failure still counts elsewhere, e.g. per address). So a flood of junk ids (one failure each) only ever
 * displaces other one-failure entries: to erase a victim's count of `c`, an attacker must fill the table with
 * `maxEntries` keys of two failures or more, i.e. spend at least `2 × maxEntries` wrong secrets, which the
 * per-address count stops long before.
 * @example
 * const table = new FailureCountTable({ maxEntries: 10_000 });
 * table.increment(clientKey, 15 * 60_000).count; // 1
 */
export class FailureCountTable {
  private readonly singles = new Map<string, FailureWindow>();
  private readonly repeated = new Map<string, FailureWindow>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: FailureCountTableOptions = {}) {
    this.maxEntries = Math.max(1, Math.floor(options.maxEntries ?? 10_000));
    this.now = options.now ?? Date.now;
  }

  /** Keys held now (expired ones included until they are touched or pushed out). */
  get size(): number {
    return this.singles.size + this.repeated.size;
  }

  /** The open window of `key`, or undefined when it has none. */
  get(key: string): FailureWindow | undefined {
    const window = this.singles.get(key) ?? this.repeated.get(key);
    if (window === undefined) return undefined;
    if (this.now() < window.resetAt) return window;
    this.singles.delete(key);
    this.repeated.delete(key);
    return undefined;
  }

  /**
   * Counts one failure for `key`, opening a window of `windowMs` when none is open.
   * @returns the window after counting; when the table is full of repeated keys, a window that is not held.
   */
  increment(key: string, windowMs: number): FailureWindow {
    const open = this.get(key);
    if (open !== undefined) {
      open.count += 1;
      if (this.singles.delete(key)) this.repeated.set(key, open);
      return open;
    }
    const window = { count: 1, resetAt: this.now() + windowMs };
    if (this.size >= this.maxEntries && !this.makeRoom()) return window;
    this.singles.set(key, window);
    return window;
  }

  /** Counts one for `key` as `increment` does, and answers the window by the ms left in it (a `CountWindow`). */
  countInWindow(key: string, windowMs: number): CountWindow {
    const window = this.increment(key, windowMs);
    return { count: window.count, resetInMs: Math.max(0, window.resetAt - this.now()) };
  }

  /** Forgets `key`. */
  delete(key: string): void {
    this.singles.delete(key);
    this.repeated.delete(key);
  }

  private makeRoom(): boolean {
    const now = this.now();
    for (const table of [this.singles, this.repeated]) {
      const [oldestKey, oldest] = table.entries().next().value ?? [];
      if (oldestKey !== undefined && oldest !== undefined && now >= oldest.resetAt) {
        table.delete(oldestKey);
        return true;
      }
    }
    const oldestSingle = this.singles.keys().next();
    if (oldestSingle.done) return false;
    this.singles.delete(oldestSingle.value);
    return true;
  }
}
