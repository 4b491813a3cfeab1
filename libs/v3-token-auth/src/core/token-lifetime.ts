import type { CachedToken } from '../store/token-store.interface.js';

/** Largest share of a token's life the expiry skew may take: a 20-second token loses at most 2 seconds. */
export const MAX_SKEW_FRACTION = 0.1;
/** Largest jitter added to the refresh-ahead point, as a share of the fresh window, so instances spread out. */
const REFRESH_JITTER = 0.05;

/**
 * When a cached token stops counting and when it is renewed ahead of that.
 *
 * - skew = `min(expirySkewSeconds, life × 0.1)`, where life = `expiresAt − issuedAt`;
 * - fresh until `expiresAt − skew`;
 * - refresh-ahead at `issuedAt + (freshUntil − issuedAt) × refreshAheadRatio` (plus up to 5 % jitter, capped below
 *   `freshUntil`), so the refresh point always falls inside the fresh window, for every lifetime.
 */
export class TokenLifetime {
  constructor(
    private readonly skewMs: number,
    private readonly refreshAheadRatio: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The skew applied to `token`: the configured skew, at most a tenth of the token's life. */
  skewOf(token: Pick<CachedToken, 'issuedAt' | 'expiresAt'>): number {
    return Math.min(this.skewMs, Math.max(0, token.expiresAt - token.issuedAt) * MAX_SKEW_FRACTION);
  }

  /** Epoch ms after which `token` no longer counts as fresh. */
  freshUntil(token: Pick<CachedToken, 'issuedAt' | 'expiresAt'>): number {
    return token.expiresAt - this.skewOf(token);
  }

  /** Epoch ms after which a hit renews `token` in the background; `Infinity` when refresh-ahead is off. */
  refreshAt(token: Pick<CachedToken, 'issuedAt' | 'expiresAt'>, freshUntil = this.freshUntil(token)): number {
    if (this.refreshAheadRatio <= 0) return Infinity;
    const window = freshUntil - token.issuedAt;
    const share = Math.min(0.99, this.refreshAheadRatio * (1 + this.random() * REFRESH_JITTER));
    return token.issuedAt + window * share;
  }
}
