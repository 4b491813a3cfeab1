import { describe, expect, it } from '@jest/globals';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import type { CachedToken } from '../store/token-store.interface.js';
import { FailSoftTokenStore } from './fail-soft-token.store.js';
import { RefreshTokenOwners, UNKNOWN_REFRESH_LIFETIME_MS } from './refresh-token.owners.js';
import { TokenFingerprinter } from './token-fingerprint.js';

/** A memory store that counts its writes and can be made to fail, as a Redis that is down does. */
class CountingStore extends MemoryTokenStore {
  writes = 0;
  failing = false;

  override set(key: string, entry: CachedToken, ttlMs: number): Promise<void> {
    this.writes += 1;
    return this.failing ? Promise.reject(new Error('store down')) : super.set(key, entry, ttlMs);
  }

  override get(key: string): Promise<CachedToken | undefined> {
    return this.failing ? Promise.reject(new Error('store down')) : super.get(key);
  }

  override isTombstoned(key: string): Promise<boolean> {
    return this.failing ? Promise.reject(new Error('store down')) : super.isTombstoned(key);
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
    expect((await owners.ownerOf('rt-bob')).owner).toEqual({ clientId: 'gw', username: 'bob' });
    expect(await owners.ownerOf('rt-alice')).toEqual({ readable: true });
    const record = await store.get(fingerprinter.refreshKey('rt-bob'));
    expect(JSON.stringify(record)).not.toContain('rt-bob');
    expect(JSON.stringify(record)).not.toContain('"at"');
    clock.current += 1_800_000;
    expect((await owners.ownerOf('rt-bob')).owner).toBeUndefined();
  });

  it('writes each time a token is handed out, so a write lost to a blip lands with the next; none without a refresh token', async () => {
    const { clock, store, owners, token } = setup();
    store.failing = true;
    const same = token();
    await owners.record(same);
    expect((await owners.ownerOf('rt-bob')).owner).toBeUndefined();
    store.failing = false;
    await owners.record(same);
    expect((await owners.ownerOf('rt-bob')).owner).toEqual({ clientId: 'gw', username: 'bob' });
    const writes = store.writes;
    await owners.record(token({ refreshToken: undefined }));
    await owners.record(token({ refreshToken: 'rt-old', refreshExpiresAt: clock.current }));
    expect(store.writes).toBe(writes);
    expect(await owners.ownerOf('rt-old')).toEqual({ readable: true });
  });

  it('says when the store cannot be read, apart from a token it holds no owner for', async () => {
    const { store, owners, token } = setup();
    await owners.record(token());
    store.failing = true;
    expect(await owners.ownerOf('rt-bob')).toEqual({ readable: false });
    store.failing = false;
    expect(await owners.ownerOf('rt-alice')).toEqual({ readable: true });
  });

  it('keeps an owner for a day when the issuer gave no refresh lifetime, and forgets one revoked', async () => {
    const { clock, owners, token } = setup();
    await owners.record(token({ refreshToken: 'rt-open', refreshExpiresAt: undefined, username: undefined }));
    clock.current += UNKNOWN_REFRESH_LIFETIME_MS - 1;
    expect((await owners.ownerOf('rt-open')).owner).toEqual({ clientId: 'gw' });
    await owners.forget('rt-open');
    expect((await owners.ownerOf('rt-open')).owner).toBeUndefined();
  });
});
