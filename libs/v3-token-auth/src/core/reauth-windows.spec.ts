import { describe, expect, it } from '@jest/globals';
import type { ReauthWindowState, TokenStore } from '../store/token-store.interface.js';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import { FailSoftTokenStore } from './fail-soft-token.store.js';
import { ReauthWindows } from './reauth-windows.js';

/** A memory store whose window methods fail while `down`, as a Redis outage makes them. */
class FlakyWindowStore extends MemoryTokenStore {
  down = false;
  override openReauthWindow(key: string, ttlMs: number): Promise<void> {
    return this.down
      ? Promise.reject(new Error('Redis is not connected'))
      : super.openReauthWindow(key, ttlMs);
  }
  override spendReauthWindow(key: string): Promise<ReauthWindowState> {
    return this.down ? Promise.reject(new Error('Redis is not connected')) : super.spendReauthWindow(key);
  }
}

const clock = { ms: 1_000 };
const now = () => clock.ms;

function setup(store: TokenStore, cooldownMs = 30_000) {
  const errors: string[] = [];
  const shared = new FailSoftTokenStore(store, { storeError: (operation) => errors.push(operation) });
  const windows = (): ReauthWindows => new ReauthWindows({ cooldownMs, maxEntries: 100, now }, shared);
  return { errors, windows };
}

describe('ReauthWindows', () => {
  it('allows one grant per window over every instance sharing the store', async () => {
    const { windows } = setup(new MemoryTokenStore({ now }));
    const [a, b] = [windows(), windows()];
    expect(await b.admit('tag')).toEqual({ allowed: true });
    await a.open('tag');
    expect(await b.admit('tag')).toEqual({ allowed: true });
    expect(await a.admit('tag')).toEqual({ allowed: false, retryAfterMs: 30_000 });
    expect(await b.admit('another-secret')).toEqual({ allowed: true });
  });

  it('keeps windows in process while the store fails, and reports the failures', async () => {
    const store = new FlakyWindowStore({ now });
    const { windows, errors } = setup(store);
    const instance = windows();
    store.down = true;
    await instance.open('tag');
    expect(await instance.admit('tag')).toEqual({ allowed: true });
    expect(await instance.admit('tag')).toMatchObject({ allowed: false });
    expect(errors).toEqual(['openReauthWindow', 'spendReauthWindow', 'spendReauthWindow']);
  });

  it('keeps windows in process for a store without them', async () => {
    const bare: TokenStore = new MemoryTokenStore({ now });
    const plain: TokenStore = {
      get: (key) => bare.get(key),
      set: (key, entry, ttlMs) => bare.set(key, entry, ttlMs),
      delete: (key, ifAccessToken) => bare.delete(key, ifAccessToken),
      acquireLock: (key, ttlMs) => bare.acquireLock(key, ttlMs),
      isHealthy: () => true,
      close: () => bare.close(),
    };
    const { windows } = setup(plain);
    const instance = windows();
    await instance.open('tag');
    expect(await instance.admit('tag')).toEqual({ allowed: true });
    expect(await instance.admit('tag')).toMatchObject({ allowed: false });
    expect(await windows().admit('tag')).toEqual({ allowed: true });
  });

  it('opens no window with a cooldown of 0', async () => {
    const { windows } = setup(new MemoryTokenStore({ now }), 0);
    const instance = windows();
    await instance.open('tag');
    expect(await instance.admit('tag')).toEqual({ allowed: true });
    expect(await instance.admit('tag')).toEqual({ allowed: true });
  });
});
