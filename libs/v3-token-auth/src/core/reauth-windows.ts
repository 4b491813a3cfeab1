import { MemoryReauthWindows } from '../store/memory/memory-reauth-windows.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';

/** Options of {@link ReauthWindows}. */
export interface ReauthWindowsOptions {
  /** `reauthCooldownMs`: how long a window stays open; 0 opens none. */
  cooldownMs: number;
  /** Windows kept in process at most, while the store cannot keep them. */
  maxEntries: number;
  /** Clock, epoch ms. */
  now: () => number;
}

/**
 * At most one re-grant per credentials while the window that a downstream's refusal of their token opened lasts,
 * over every instance sharing the store (in this process while the store keeps no windows or cannot be asked: then
 * windows another instance opened are not seen). Windows are keyed by a digest of the credentials' verifier
 * (`TokenFingerprinter.exemptionTag`), so only a caller who presents those exact credentials opens or spends one; a
 * wrong secret for the same client id meets no window. Spent only by a grant about to go to the issuer, never on a
 * cache hit, and given back when that grant fails at the issuer.
 * @example
 * await windows.open(tag); // a downstream answered 401 to the token of these credentials
 * await windows.spend(tag); // { allowed: true, regrant: true }: the one re-grant; then { allowed: false, retryAfterMs }
 */
export class ReauthWindows {
  private readonly local: MemoryReauthWindows;

  constructor(
    private readonly options: ReauthWindowsOptions,
    private readonly shared: FailSoftTokenStore,
  ) {
    this.local = new MemoryReauthWindows({ maxEntries: options.maxEntries, now: options.now });
  }

  /** Opens the window of `tag`, unless one is open (in the store; in process when the store keeps none). */
  async open(tag: string): Promise<void> {
    if (this.options.cooldownMs <= 0) return;
    if (!(await this.shared.openReauthWindow(tag, this.options.cooldownMs))) {
      this.local.open(tag, this.options.cooldownMs);
    }
  }

  /**
   * Whether a grant for `tag` may go to the issuer: outside a window always, inside one once; `regrant` says this
   * grant spent the window's re-grant (give it back with `refund` if the grant fails).
   */
  async spend(
    tag: string,
  ): Promise<{ allowed: true; regrant: boolean } | { allowed: false; retryAfterMs: number }> {
    if (this.options.cooldownMs <= 0) return { allowed: true, regrant: false };
    const window = (await this.shared.spendReauthWindow(tag)) ?? this.local.spend(tag);
    if (!window.open) return { allowed: true, regrant: false };
    if (window.regrant) return { allowed: true, regrant: true };
    return { allowed: false, retryAfterMs: window.resetInMs };
  }

  /** Gives `tag`'s open window its re-grant back: the grant that spent it did not reach a token. */
  async refund(tag: string): Promise<void> {
    this.local.refund(tag);
    await this.shared.refundReauthWindow(tag);
  }
}
