import { describe, expect, it } from '@jest/globals';
import { toCachedToken } from './token-response.mapper.js';

const answer = (scope?: string) => ({
  httpMeta: { status: 200, headers: {}, durationMs: 1 },
  issuedAt: 1_000,
  v3TokenResponse: {
    access_token: 'at',
    token_type: 'Bearer' as const,
    expires_in: 60,
    ...(scope !== undefined ? { scope } : {}),
  },
});

describe('toCachedToken', () => {
  it("keeps the issuer's scope, and takes the requested one when the answer has none (RFC 6749 §5.1)", () => {
    expect(toCachedToken(answer('orders:read'), { clientId: 'c', scope: 'a b' }, 'v').scope).toBe(
      'orders:read',
    );
    expect(toCachedToken(answer(), { clientId: 'c', scope: 'orders:read' }, 'v').scope).toBe('orders:read');
    expect(toCachedToken(answer(), { clientId: 'c' }, 'v')).not.toHaveProperty('scope');
  });

  it('grants nothing for an empty scope in the answer, never the scope requested', () => {
    expect(toCachedToken(answer(''), { clientId: 'c', scope: 'orders:write' }, 'v').scope).toBe('');
  });
});
