import type { CachedToken } from '../store/token-store.interface.js';
import type { V3Clock } from './clock.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import type { TokenFingerprinter } from './token-fingerprint.js';

/** Whose a refresh token is: the client it was granted to, and the user for the password grant. */
export interface RefreshTokenOwner {
  clientId: string;
  username?: string;
}

/** What the store says of a refresh token's owner: `readable` false when it could not be asked. */
export interface RefreshTokenOwnerReading {
  owner?: RefreshTokenOwner;
  readable: boolean;
}

/** How long an owner is kept when the issuer did not say when the refresh token expires, ms. */
export const UNKNOWN_REFRESH_LIFETIME_MS = 24 * 3_600_000;

/**
 * Record kept in place of a token: every store holds `CachedToken`s, and a record with no token in it can be told
 * from a real entry by its key alone (`TokenFingerprinter.refreshKey`), which no lookup of a token ever reads.
 */
const NO_TOKEN = 'refresh-token-owner';

/**
 * The owners of the refresh tokens this module handed out, by a keyed hash of the token (never the token), in the
 * shared store until the token expires: the password grant's users all share the module's own client, so the issuer
 * cannot tell whose a refresh token is, and the module must before it refreshes or revokes one for a user.
 */
export class RefreshTokenOwners {
  constructor(
    private readonly store: FailSoftTokenStore,
    private readonly fingerprinter: TokenFingerprinter,
    private readonly clock: V3Clock,
  ) {}

  /**
   * Records the owner of `token.refreshToken` (no refresh token: nothing). Written each time the token is handed out,
   * as the store cannot say whether a write landed: a record lost to a Redis blip is written again by the next answer.
   */
  async record(token: CachedToken): Promise<void> {
    const { refreshToken } = token;
    if (refreshToken === undefined) return;
    const now = this.clock.now();
    const expiresAt = token.refreshExpiresAt ?? now + UNKNOWN_REFRESH_LIFETIME_MS;
    if (expiresAt <= now) return;
    const record: CachedToken = {
      accessToken: NO_TOKEN,
      tokenType: 'Bearer',
      issuedAt: now,
      expiresAt,
      clientId: token.clientId,
      verifier: '',
    };
    if (token.username !== undefined) record.username = token.username;
    await this.store.set(this.fingerprinter.refreshKey(refreshToken), record, expiresAt - now);
  }

  /**
   * The owner of `refreshToken`, when this module handed it out and it has not expired. Read with the tombstone check,
   * which tells a store that cannot answer (it reads as a tombstone, and no tombstone is ever written at these keys)
   * from one that holds no record.
   */
  async ownerOf(refreshToken: string): Promise<RefreshTokenOwnerReading> {
    const key = this.fingerprinter.refreshKey(refreshToken);
    const { entry, tombstoned } = await this.store.getWithTombstone(key, key);
    if (tombstoned) return { readable: false };
    if (entry === undefined || entry.accessToken !== NO_TOKEN || entry.expiresAt <= this.clock.now())
      return { readable: true };
    const owner: RefreshTokenOwner = { clientId: entry.clientId };
    if (entry.username !== undefined) owner.username = entry.username;
    return { owner, readable: true };
  }

  /** Forgets the owner of a refresh token that was revoked. */
  forget(refreshToken: string): Promise<void> {
    return this.store.delete(this.fingerprinter.refreshKey(refreshToken));
  }
}
