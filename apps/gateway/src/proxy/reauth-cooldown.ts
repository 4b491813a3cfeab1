import { hash } from 'node:crypto';

interface CooldownWindow {
  /** Epoch ms the window ends at. */
  until: number;
  /** Grants still allowed in the window: 1 when it opens, 0 once the re-grant is spent. */
  regrants: number;
}

/** Options of `ReauthCooldown`. */
export interface ReauthCooldownOptions {
  /** `GATEWAY_REAUTH_COOLDOWN_MS`: length of the window a downstream 401 opens; 0 opens none. */
  cooldownMs: number;
  /** Windows held at most; the oldest goes first. @default 10000 */
  maxEntries?: number;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * At most one re-grant per client credentials (an exact Authorization header value, held as its SHA-256 and only in
 * this process) per cooldown window: a downstream 401 opens the window, the first request that needs a new token in
 * it gets one, and later ones are answered 401 instead of costing the issuer a grant. A request whose token is still
 * cached is never stopped.
 */
export class ReauthCooldown {
  private readonly windows = new Map<string, CooldownWindow>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: ReauthCooldownOptions) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * True while no window is open: then checking costs one size test (the warm path). Windows open in the order they
   * end, so the ended ones are dropped from the front.
   */
  get idle(): boolean {
    if (this.windows.size === 0) return true;
    const now = this.now();
    for (const [key, window] of this.windows) {
      if (window.until > now) break;
      this.windows.delete(key);
    }
    return this.windows.size === 0;
  }

  /** A downstream refused the token relayed for `authorization`: opens its window unless one is open. */
  refused(authorization: string | string[] | undefined): void {
    if (this.options.cooldownMs <= 0 || typeof authorization !== 'string') return;
    const key = keyOf(authorization);
    if (this.live(key) !== undefined) return;
    if (this.windows.size >= this.maxEntries) {
      const oldest = this.windows.keys().next();
      if (!oldest.done) this.windows.delete(oldest.value);
    }
    this.windows.set(key, { until: this.now() + this.options.cooldownMs, regrants: 1 });
  }

  /** Whether a window is open for `authorization` and its re-grant is spent. */
  exhausted(authorization: string | string[] | undefined): boolean {
    if (this.idle || typeof authorization !== 'string') return false;
    return this.live(keyOf(authorization))?.regrants === 0;
  }

  /**
   * Whether a request with `authorization` may go on: always outside a window or when `warm()` (its token is still
   * cached, so no grant is needed); inside a window once more, spending its re-grant.
   */
  admit(authorization: string | string[] | undefined, warm: () => boolean): boolean {
    if (this.idle || typeof authorization !== 'string') return true;
    const window = this.live(keyOf(authorization));
    if (window === undefined || warm()) return true;
    if (window.regrants === 0) return false;
    window.regrants -= 1;
    return true;
  }

  /** Seconds until the window of `authorization` ends (at least 1). */
  retryAfterSeconds(authorization: string | string[] | undefined): number {
    const window = typeof authorization === 'string' ? this.live(keyOf(authorization)) : undefined;
    return Math.max(1, Math.ceil(((window?.until ?? this.now()) - this.now()) / 1000));
  }

  private live(key: string): CooldownWindow | undefined {
    const window = this.windows.get(key);
    if (window === undefined) return undefined;
    if (window.until > this.now()) return window;
    this.windows.delete(key);
    return undefined;
  }
}

function keyOf(authorization: string): string {
  return hash('sha256', authorization, 'base64url');
}
