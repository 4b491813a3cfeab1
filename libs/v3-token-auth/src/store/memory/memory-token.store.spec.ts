import { describe, it, expect, beforeEach } from '@jest/globals';
import { MemoryTokenStore } from './memory-token.store.js';
import type { CachedToken } from '../token-store.interface.js';

function token(accessToken: string, overrides: Partial<CachedToken> = {}): CachedToken {
  return {
    accessToken,
    tokenType: 'Bearer',
    issuedAt: 1_000,
    expiresAt: 301_000,
    clientId: 'customer_id',
    verifier: 'verifier',
    ...overrides,
  };
}

describe('MemoryTokenStore', () => {
  let clock: number;
  let store: MemoryTokenStore;
  beforeEach(() => {
    clock = 1_000;
    store = new MemoryTokenStore({ maxEntries: 2, now: () => clock });
  });

  it('stores an entry for its ttl and returns a copy of what was stored', async () => {
    const entry = token('at-1');
    await store.set('k', entry, 1_000);
    entry.accessToken = 'mutated';
    expect(await store.get('k')).toEqual(token('at-1'));
    clock = 2_000;
    expect(await store.get('k')).toBeUndefined();
  });

  it('stores nothing for a non-positive ttl', async () => {
    await store.set('k', token('at-1'), 0);
    await store.set('j', token('at-2'), -5);
    expect(await store.get('k')).toBeUndefined();
    expect(await store.get('j')).toBeUndefined();
  });

  it('is bounded, evicting the least recently used', async () => {
    await store.set('a', token('A'), 10_000);
    await store.set('b', token('B'), 10_000);
    await store.get('a');
    await store.set('c', token('C'), 10_000);
    expect(await store.get('b')).toBeUndefined();
    expect((await store.get('a'))?.accessToken).toBe('A');
    expect((await store.get('c'))?.accessToken).toBe('C');
  });

  it('compare-and-deletes by access token', async () => {
    await store.set('k', token('at-new'), 10_000);
    expect(await store.delete('k', 'at-old')).toBe(false);
    expect((await store.get('k'))?.accessToken).toBe('at-new');
    expect(await store.delete('k', 'at-new')).toBe(true);
    expect(await store.get('k')).toBeUndefined();
    await store.set('k', token('at-x'), 10_000);
    expect(await store.delete('k')).toBe(true);
    expect(await store.delete('k')).toBe(false);
  });

  it('grants a lock to one holder at a time until it is released or expires', async () => {
    const first = await store.acquireLock('k', 500);
    expect(first?.key).toBe('k');
    expect(await store.acquireLock('k', 500)).toBeUndefined();
    await first!.release();
    const second = await store.acquireLock('k', 500);
    expect(second).toBeDefined();
    clock += 500;
    const third = await store.acquireLock('k', 500);
    expect(third).toBeDefined();
    expect(await second!.renew(500)).toBe(false);
    await second!.release();
    expect(await store.acquireLock('k', 500)).toBeUndefined();
  });

  it("tells a lock's lease left, which a renewal extends, and nothing once it is released or expired", async () => {
    expect(await store.lockTtlMs('k')).toBeUndefined();
    const lock = await store.acquireLock('k', 500);
    clock += 200;
    expect(await store.lockTtlMs('k')).toBe(300);
    await lock!.renew(1_000);
    expect(await store.lockTtlMs('k')).toBe(1_000);
    await lock!.release();
    expect(await store.lockTtlMs('k')).toBeUndefined();
    await store.acquireLock('k', 100);
    clock += 100;
    expect(await store.lockTtlMs('k')).toBeUndefined();
  });

  it('renews a held lock, extending its lease', async () => {
    const lock = await store.acquireLock('k', 100);
    clock += 90;
    expect(await lock!.renew(1_000)).toBe(true);
    clock += 500;
    expect(await store.acquireLock('k', 100)).toBeUndefined();
    clock += 500;
    expect(await lock!.renew(1_000)).toBe(false);
  });

  it('is always healthy and forgets everything on close', async () => {
    await store.set('k', token('at'), 10_000);
    await store.acquireLock('k', 10_000);
    expect(store.isHealthy()).toBe(true);
    await store.close();
    expect(await store.get('k')).toBeUndefined();
    expect(await store.acquireLock('k', 10_000)).toBeDefined();
  });
});
