import { describe, expect, it } from '@jest/globals';
import type { TokenStore } from '../store/token-store.interface.js';
import { OutageMemoryStore } from '../testing/outage-memory.store.js';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import { FailSoftTokenStore } from './fail-soft-token.store.js';
import { ReauthWindows } from './reauth-windows.js';

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
    expect(await b.spend('tag')).toEqual({ allowed: true, regrant: false });
    await a.open('tag');
    expect(await b.spend('tag')).toEqual({ allowed: true, regrant: true });
    expect(await a.spend('tag')).toEqual({ allowed: false, retryAfterMs: 30_000 });
    expect(await b.spend('another-secret')).toEqual({ allowed: true, regrant: false });
  });

  it('keeps windows in process while the store fails, and reports the failures', async () => {
    const store = new OutageMemoryStore({ now });
    const { windows, errors } = setup(store);
    const instance = windows();
    store.down = true;
    await instance.open('tag');
    expect(await instance.spend('tag')).toEqual({ allowed: true, regrant: true });
    expect(await instance.spend('tag')).toMatchObject({ allowed: false });
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
    expect(await instance.spend('tag')).toEqual({ allowed: true, regrant: true });
    expect(await instance.spend('tag')).toMatchObject({ allowed: false });
    expect(await windows().spend('tag')).toEqual({ allowed: true, regrant: false });
  });

  it('gives the re-grant back to the window, for every instance, when the grant that spent it failed', async () => {
    const { windows } = setup(new MemoryTokenStore({ now }));
    const [a, b] = [windows(), windows()];
    await a.open('tag');
    expect(await a.spend('tag')).toEqual({ allowed: true, regrant: true });
    await a.refund('tag');
    expect(await b.spend('tag')).toEqual({ allowed: true, regrant: true });
    expect(await a.spend('tag')).toMatchObject({ allowed: false });
    await b.refund('no-window');
    expect(await b.spend('no-window')).toEqual({ allowed: true, regrant: false });
  });

  it('opens no window with a cooldown of 0', async () => {
    const { windows } = setup(new MemoryTokenStore({ now }), 0);
    const instance = windows();
    await instance.open('tag');
    expect(await instance.spend('tag')).toEqual({ allowed: true, regrant: false });
    expect(await instance.spend('tag')).toEqual({ allowed: true, regrant: false });
  });
});
