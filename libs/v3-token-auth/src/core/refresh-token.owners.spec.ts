import { describe, expect, it } from '@jest/globals';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import type { CachedToken } from '../store/token-store.interface.js';
import { FailSoftTokenStore } from './fail-soft-token.store.js';
import { RefreshTokenOwners, UNKNOWN_REFRESH_LIFETIME_MS } from './refresh-token.owners.js';
import { TokenFingerprinter } from './token-fingerprint.js';

class CountingStore extends MemoryTokenStore {
  writes = 0;
  override set(key: string, entry: CachedToken, ttlMs: number): Promise<void> {
    this.writes += 1;
    return super.set(key, entry, ttlMs);
  }
}

describe('RefreshTokenOwners', () => {
  const setup = () => {
    const clock = { current: 10_000, now: () => clock.current };
    const store = new CountingStore({ now: clock.now });
    const fingerprinter = new TokenFingerprinter(
      'owners-spec-hmac-key-0123456789abcdef',
      'https://issuer.test/token',
    );
    const owners = new RefreshTokenOwners(new FailSoftTokenStore(store, {}), fingerprinter, clock);
    const token = (extra: Partial<CachedToken> = {}): CachedToken => ({
      accessToken: 'at',
      tokenType: 'Bearer',
      issuedAt: clock.current,
      expiresAt: clock.current + 300_000,
      clientId: 'gw',
      username: 'bob',
      verifier: 'v',
      refreshToken: 'rt-bob',
      refreshExpiresAt: clock.current + 1_800_000,
      ...extra,
    });
    return { clock, store, fingerprinter, owners, token };
  };

  it('keeps the owner of a refresh token until it expires, under a keyed hash that holds no token', async () => {
    const { clock, store, fingerprinter, owners, token } = setup();
    await owners.record(token());
    expect(await owners.ownerOf('rt-bob')).toEqual({ clientId: 'gw', username: 'bob' });
    expect(await owners.ownerOf('rt-alice')).toBeUndefined();
    const record = await store.get(fingerprinter.refreshKey('rt-bob'));
    expect(JSON.stringify(record)).not.toContain('rt-bob');
    expect(JSON.stringify(record)).not.toContain('"at"');
    clock.current += 1_800_000;
    expect(await owners.ownerOf('rt-bob')).toBeUndefined();
  });

  it('writes once per token object, nothing without a refresh token or for one already expired', async () => {
    const { clock, store, owners, token } = setup();
    const same = token();
    await owners.record(same);
    await owners.record(same);
    expect(store.writes).toBe(1);
    await owners.record(token({ refreshToken: undefined }));
    await owners.record(token({ refreshToken: 'rt-old', refreshExpiresAt: clock.current }));
    expect(store.writes).toBe(1);
    expect(await owners.ownerOf('rt-old')).toBeUndefined();
  });

  it('keeps an owner for a day when the issuer gave no refresh lifetime, and forgets one revoked', async () => {
    const { clock, owners, token } = setup();
    await owners.record(token({ refreshToken: 'rt-open', refreshExpiresAt: undefined, username: undefined }));
    clock.current += UNKNOWN_REFRESH_LIFETIME_MS - 1;
    expect(await owners.ownerOf('rt-open')).toEqual({ clientId: 'gw' });
    await owners.forget('rt-open');
    expect(await owners.ownerOf('rt-open')).toBeUndefined();
  });
});
