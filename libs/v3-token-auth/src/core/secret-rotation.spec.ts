import { describe, expect, it } from '@jest/globals';
import type { CachedToken } from '../store/token-store.interface.js';
import { LocalTokenCache } from './local-token.cache.js';
import { SecretRotation } from './secret-rotation.js';
import { toPrincipal } from './token-response.mapper.js';

const LIFE = 60_000;

function granted(
  verifier: string,
  issuedAt: number,
  accessToken = `at-${verifier}-${issuedAt}`,
): CachedToken {
  return {
    accessToken,
    tokenType: 'Bearer',
    issuedAt,
    expiresAt: issuedAt + LIFE,
    clientId: 'svc',
    verifier,
  };
}

describe('SecretRotation', () => {
  it('a new grant carries the verifier of the token it replaces, which it then serves', () => {
    const old = granted('v-old', 1_000);
    const next = SecretRotation.carryOver(granted('v-new', 2_000), old);
    expect(next.verifier).toBe('v-new');
    expect(next.recentVerifiers).toEqual([{ verifier: 'v-old', grantedAt: 1_000 }]);
    expect(SecretRotation.serves(next, 'v-new')).toBe(true);
    expect(SecretRotation.serves(next, 'v-old')).toBe(true);
    expect(SecretRotation.servesKnown(next, 'v-old')).toBe(true);
  });

  it('never serves a verifier that obtained no token of the identity', () => {
    const next = SecretRotation.carryOver(granted('v-new', 2_000), granted('v-old', 1_000));
    expect(SecretRotation.serves(next, 'v-wrong')).toBe(false);
    expect(SecretRotation.servesKnown(next, 'v-wrong')).toBe(false);
    expect(SecretRotation.serves(next, '')).toBe(false);
    expect(SecretRotation.serves(granted('v-only', 1_000), 'v-other')).toBe(false);
  });

  it('keeps at most two other verifiers, the most recent ones, without duplicates', () => {
    let token = granted('v1', 1_000);
    token = SecretRotation.carryOver(granted('v2', 2_000), token);
    token = SecretRotation.carryOver(granted('v3', 3_000), token);
    token = SecretRotation.carryOver(granted('v4', 4_000), token);
    expect(token.recentVerifiers).toEqual([
      { verifier: 'v3', grantedAt: 3_000 },
      { verifier: 'v2', grantedAt: 2_000 },
    ]);
    expect(SecretRotation.serves(token, 'v1')).toBe(false);
    token = SecretRotation.carryOver(granted('v3', 5_000), token);
    expect(token.verifier).toBe('v3');
    expect(token.recentVerifiers).toEqual([
      { verifier: 'v4', grantedAt: 4_000 },
      { verifier: 'v2', grantedAt: 2_000 },
    ]);
  });

  it('drops a verifier whose secret obtained no token for a whole lifetime (a retired secret stops riding)', () => {
    const withOld = SecretRotation.carryOver(granted('v-new', 10_000), granted('v-old', 9_000));
    const renewed = SecretRotation.carryOver(granted('v-new', 9_000 + LIFE - 1), withOld);
    expect(SecretRotation.serves(renewed, 'v-old')).toBe(true);
    const later = SecretRotation.carryOver(granted('v-new', 9_000 + LIFE), renewed);
    expect(later.recentVerifiers).toBeUndefined();
    expect(SecretRotation.serves(later, 'v-old')).toBe(false);
    expect(SecretRotation.serves(later, 'v-new')).toBe(true);
  });

  it('a renewal by the same secret keeps its one verifier; bearer entries carry none', () => {
    const renewed = SecretRotation.carryOver(granted('v1', 2_000), granted('v1', 1_000));
    expect(renewed.recentVerifiers).toBeUndefined();
    const bearer = SecretRotation.carryOver(granted('', 2_000), granted('v1', 1_000));
    expect(bearer.recentVerifiers).toBeUndefined();
    expect(SecretRotation.carryOver(granted('v1', 1_000), undefined).recentVerifiers).toBeUndefined();
  });

  it('replaces whatever recent verifiers the granted token came with', () => {
    const forged: CachedToken = {
      ...granted('v-new', 2_000),
      recentVerifiers: [{ verifier: 'v-x', grantedAt: 1 }],
    };
    expect(SecretRotation.carryOver(forged, undefined).recentVerifiers).toBeUndefined();
  });

  it("the header memo of the old secret's header still finds the new token, a memo of another secret does not", () => {
    const now = 1_500;
    const local = new LocalTokenCache(10, true, { now: () => now });
    const token = SecretRotation.carryOver(granted('v-new', 1_000), granted('v-old', 500));
    const slot = {
      key: 'c.key',
      bearerKey: 'c.bearer',
      token,
      principal: toPrincipal(token),
      freshUntil: 50_000,
      refreshAt: Infinity,
    };
    local.hold(slot);
    local.memoHeader('h-old', slot, 'v-old', true);
    local.memoHeader('h-new', slot, 'v-new', true);
    local.memoHeader('h-other', slot, 'v-other', true);
    expect(local.slotOfHeader('h-old')).toBe(slot);
    expect(local.slotOfHeader('h-new')).toBe(slot);
    expect(local.slotOfHeader('h-other')).toBeUndefined();
    expect(local.headerMemo('h-old')?.verifier).toBe('v-old');

    const renewed = SecretRotation.carryOver(granted('v-new', 1_000 + LIFE), token);
    local.hold({ ...slot, token: renewed, principal: toPrincipal(renewed) });
    expect(local.slotOfHeader('h-old')).toBeUndefined();
    expect(local.slotOfHeader('h-new')?.token).toBe(renewed);
  });
});
