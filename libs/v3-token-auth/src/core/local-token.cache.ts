import { BoundedTtlCache } from '../store/memory/bounded-ttl.cache.js';
import type { V3Clock } from './clock.js';
import { SecretRotation } from './secret-rotation.js';
import type { TokenSlot } from './token-slot.js';

/**
 * What an exact Authorization header value (for one scope and resource) was verified against: its slot's key and
 * the verifier of its own secret (which the slot's token may serve as one of its recent verifiers). For `Basic` both derive from the header alone, so they also spare a store hit the two
 * HMACs.
 */
export interface HeaderMemo {
  slotKey: string;
  verifier: string;
  basic: boolean;
  /** Epoch ms until which the memo is kept: its slot's `freshUntil`. */
  until: number;
}

/**
 * The in-process layer: token slots by cache key, and the header memo that lets the guard accept a header value it
 * verified before with one hash and no I/O. Holds no secret.
 */
export class LocalTokenCache {
  private readonly slots: BoundedTtlCache<TokenSlot>;
  private readonly headers: BoundedTtlCache<HeaderMemo>;

  constructor(
    maxEntries: number,
    /** False when the in-process layer is off: slots are never held (header memos still spare HMACs). */
    readonly enabled: boolean,
    clock: V3Clock,
  ) {
    const now = () => clock.now();
    this.slots = new BoundedTtlCache<TokenSlot>({ maxEntries, now });
    this.headers = new BoundedTtlCache<HeaderMemo>({ maxEntries, now });
  }

  /** The slot held under `key`, or undefined. */
  slot(key: string): TokenSlot | undefined {
    return this.enabled ? this.slots.get(key) : undefined;
  }

  /** Holds `slot` until it stops being fresh. */
  hold(slot: TokenSlot): void {
    if (this.enabled) this.slots.set(slot.key, slot, slot.freshUntil);
  }

  /** Drops every slot holding the token with `bearerKey` (a scan: evictions are rare); the slots dropped. */
  evictToken(bearerKey: string): TokenSlot[] {
    return this.slots.deleteWhere((slot) => slot.bearerKey === bearerKey);
  }

  /** Every slot held (a scan: for rare operations). */
  heldSlots(): TokenSlot[] {
    return this.slots.values();
  }

  /** The memo of a header value, by its header key. */
  headerMemo(headerKey: string): HeaderMemo | undefined {
    return this.headers.get(headerKey);
  }

  /** The slot a header value was verified against, while its token still serves the header's secret. */
  slotOfHeader(headerKey: string): TokenSlot | undefined {
    const memo = this.headers.get(headerKey);
    if (memo === undefined) return undefined;
    const slot = this.slots.get(memo.slotKey);
    return slot !== undefined && SecretRotation.servesKnown(slot.token, memo.verifier) ? slot : undefined;
  }

  /**
   * Remembers what a header value was verified against (`verifier`: its own secret's): for the hot path (when this
   * layer holds its slot), and for `Basic` also to derive its keys without HMACs on later store hits. A memo that
   * already says the same is left alone: a new object stored in a long-lived map on every store hit would survive
   * the young generation.
   */
  memoHeader(headerKey: string, slot: TokenSlot, verifier: string, basic: boolean): void {
    const held = this.enabled && this.slots.get(slot.key) === slot;
    if (!held && !basic) return;
    const known = this.headers.get(headerKey);
    if (
      known?.slotKey === slot.key &&
      known.verifier === verifier &&
      known.basic === basic &&
      known.until === slot.freshUntil
    ) {
      return;
    }
    this.headers.set(
      headerKey,
      { slotKey: slot.key, verifier, basic, until: slot.freshUntil },
      slot.freshUntil,
    );
  }
}
