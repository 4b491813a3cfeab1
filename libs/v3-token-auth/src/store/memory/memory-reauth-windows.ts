import type { ReauthWindowState } from '../token-store.interface.js';
import { BoundedTtlCache, type BoundedCacheOptions } from './bounded-ttl.cache.js';

/** One open window: its end (epoch ms) and the re-grants it still allows. */
interface ReauthWindow {
  until: number;
  regrants: number;
}

/**
 * Re-grant windows held in this process (`TokenStore.openReauthWindow` and `spendReauthWindow` of one instance): a
 * window holds one re-grant from when it opens until it ends; the least recently used go first past `maxEntries`.
 * @example
 * windows.open(tag, 30_000);
 * windows.spend(tag); // { open: true, regrant: true, … }, then { open: true, regrant: false, … }
 */
export class MemoryReauthWindows {
  private readonly windows: BoundedTtlCache<ReauthWindow>;
  private readonly now: () => number;

  constructor({ maxEntries, now = Date.now }: BoundedCacheOptions = {}) {
    this.now = now;
    this.windows = new BoundedTtlCache({ maxEntries, now });
  }

  /** Opens `key`'s window for `ttlMs` with one re-grant, unless one is open. */
  open(key: string, ttlMs: number): void {
    if (!(ttlMs > 0) || this.windows.get(key) !== undefined) return;
    const until = this.now() + ttlMs;
    this.windows.set(key, { until, regrants: 1 }, until);
  }

  /** Spends the re-grant of `key`'s open window (see `ReauthWindowState`). */
  spend(key: string): ReauthWindowState {
    const window = this.windows.get(key);
    if (window === undefined) return { open: false };
    const regrant = window.regrants > 0;
    if (regrant) window.regrants -= 1;
    return { open: true, regrant, resetInMs: Math.max(0, window.until - this.now()) };
  }

  /** Gives `key`'s open window its re-grant back. */
  refund(key: string): void {
    const window = this.windows.get(key);
    if (window !== undefined) window.regrants = 1;
  }

  clear(): void {
    this.windows.clear();
  }
}
