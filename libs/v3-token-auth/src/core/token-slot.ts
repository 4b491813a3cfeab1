import type { CachedToken } from '../store/token-store.interface.js';
import type { V3Principal } from '../v3-token.interfaces.js';

/** A token held in process, with the principal built from it once. */
export interface TokenSlot {
  /** Cache key of the token's identity (or its bearer key; empty for a token not cached). */
  key: string;
  /** Keyed hash of the access token (`TokenFingerprinter.bearerKey`): what its eviction and tombstone go by. */
  bearerKey: string;
  token: CachedToken;
  principal: V3Principal;
  /** Epoch ms after which the token no longer counts (see `TokenLifetime`; bearer entries: expiry). */
  freshUntil: number;
  /** Epoch ms after which a hit renews the token in the background. */
  refreshAt: number;
}
