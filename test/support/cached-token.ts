import type { CachedToken } from 'nestjs-v3-token-auth';

/** A fresh `CachedToken` for store specs: every field set, issued now, expiring in 5 minutes. */
export function cachedToken(accessToken: string, overrides: Partial<CachedToken> = {}): CachedToken {
  const now = Date.now();
  return {
    accessToken,
    tokenType: 'Bearer',
    issuedAt: now,
    expiresAt: now + 300_000,
    refreshToken: `refresh-of-${accessToken}`,
    refreshExpiresAt: now + 1_800_000,
    scope: 'orders',
    resource: 'https://orders.example',
    clientId: 'customer_id',
    username: 'alice',
    verifier: 'hmac-of-secret',
    ...overrides,
  };
}
