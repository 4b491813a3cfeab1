import type { CachedToken } from '../store/token-store.interface.js';
import type { V3Clock } from './clock.js';
import type { FailSoftTokenStore } from './fail-soft-token.store.js';
import type { TokenFingerprinter } from './token-fingerprint.js';

/** Whose a refresh token is: the client it was granted to, and the user for the password grant. */
export interface RefreshTokenOwner {
  clientId: string;
  username?: string;
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
  /** Tokens whose owner this process recorded, so that `POST /token` answered from the cache writes it once. */
  private readonly recorded = new WeakSet<CachedToken>();

  constructor(
    private readonly store: FailSoftTokenStore,
    private readonly fingerprinter: TokenFingerprinter,
    private readonly clock: V3Clock,
  ) {}

  /** Records the owner of `token.refreshToken` (no refresh token: nothing), once per token object. */
  async record(token: CachedToken): Promise<void> {
    const { refreshToken } = token;
    if (refreshToken === undefined || this.recorded.has(token)) return;
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
    this.recorded.add(token);
  }

  /** The owner of `refreshToken`, when this module handed it out and it has not expired; else undefined. */
  async ownerOf(refreshToken: string): Promise<RefreshTokenOwner | undefined> {
    const record = await this.store.get(this.fingerprinter.refreshKey(refreshToken));
    if (record === undefined || record.accessToken !== NO_TOKEN || record.expiresAt <= this.clock.now())
      return undefined;
    return record.username === undefined
      ? { clientId: record.clientId }
      : { clientId: record.clientId, username: record.username };
  }

  /** Forgets the owner of a refresh token that was revoked. */
  forget(refreshToken: string): Promise<void> {
    return this.store.delete(this.fingerprinter.refreshKey(refreshToken));
  }
}
