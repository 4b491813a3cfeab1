import { describe, expect, it } from '@jest/globals';
import { MemoryCredentialThrottleStore } from './memory-credential-throttle.store.js';

describe('MemoryCredentialThrottleStore', () => {
  it('keeps client and address counts apart, so junk in one cannot push out the other', async () => {
    const store = new MemoryCredentialThrottleStore({ maxEntries: 10 });
    await store.increment('address', 'attacker', 60_000);
    await store.increment('address', 'attacker', 60_000);
    for (let i = 0; i < 1000; i++) await store.increment('client', `junk-${i}`, 60_000);
    expect((await store.read('address', 'attacker'))?.count).toBe(2);
    expect(await store.read('client', 'attacker')).toBeUndefined();
  });

  it('holds a few known-good secrets per client, the oldest going first', async () => {
    const clock = { now: 0 };
    const store = new MemoryCredentialThrottleStore({ maxKnownGoodPerClient: 2, now: () => clock.now });
    await store.rememberKnownGood('c', 'one', 1000);
    await store.rememberKnownGood('c', 'two', 1000);
    await store.rememberKnownGood('c', 'three', 1000);
    expect([await store.isKnownGood('c', 'one'), await store.isKnownGood('c', 'three')]).toEqual([
      false,
      true,
    ]);
    clock.now = 1000;
    expect(await store.isKnownGood('c', 'three')).toBe(false);
  });

  it('returns copies: a caller cannot change a stored count', async () => {
    const store = new MemoryCredentialThrottleStore();
    const window = await store.increment('client', 'c', 60_000);
    window.count = 0;
    expect((await store.read('client', 'c'))?.count).toBe(1);
  });
});
