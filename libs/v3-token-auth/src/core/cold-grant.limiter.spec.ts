import { describe, expect, it } from '@jest/globals';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import type { TokenStore } from '../store/token-store.interface.js';
import { OutageMemoryStore } from '../testing/outage-memory.store.js';
import { ColdGrantLimiter } from './cold-grant.limiter.js';
import { FailSoftTokenStore } from './fail-soft-token.store.js';

describe('ColdGrantLimiter', () => {
  const clock = { ms: 1_000_000 };
  const now = () => clock.ms;
  const limiter = (store: TokenStore, perAddressPerMinute = 3) =>
    new ColdGrantLimiter({ perAddressPerMinute, now }, new FailSoftTokenStore(store, {}));

  it('counts one address over every instance sharing the store, and other addresses apart', async () => {
    const store = new MemoryTokenStore({ now });
    const [a, b] = [limiter(store), limiter(store)];
    expect(await a.take('addr-1')).toEqual({ allowed: true });
    expect(await b.take('addr-1')).toEqual({ allowed: true });
    expect(await a.take('addr-1')).toEqual({ allowed: true });
    expect(await b.take('addr-1')).toEqual({ allowed: false, retryAfterMs: 60_000 });
    expect(await b.take('addr-2')).toEqual({ allowed: true });
    clock.ms += 60_000;
    expect(await a.take('addr-1')).toEqual({ allowed: true });
  });

  it('holds at most perAddressAtOnce cold grants of one address in flight, until they are released', async () => {
    const limited = new ColdGrantLimiter({ perAddressPerMinute: 100, perAddressAtOnce: 2, now });
    expect(await limited.take('addr-1')).toEqual({ allowed: true });
    expect(await limited.take('addr-1')).toEqual({ allowed: true });
    expect(await limited.take('addr-1')).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect(await limited.take('addr-2')).toEqual({ allowed: true });
    limited.release('addr-1');
    expect(await limited.take('addr-1')).toEqual({ allowed: true });
    const off = new ColdGrantLimiter({ perAddressPerMinute: 0, perAddressAtOnce: 1, now });
    expect(await off.take('addr-1')).toEqual({ allowed: true });
    expect(await off.take('addr-1')).toEqual({ allowed: true });
  });

  it('counts in process while the store fails', async () => {
    const store = new OutageMemoryStore({ now });
    const instance = limiter(store, 2);
    store.down = true;
    expect(await instance.take('addr')).toEqual({ allowed: true });
    expect(await instance.take('addr')).toEqual({ allowed: true });
    expect(await instance.take('addr')).toMatchObject({ allowed: false });
  });

  it('takes nothing with a limit of 0', async () => {
    const instance = limiter(new MemoryTokenStore({ now }), 0);
    for (let i = 0; i < 5; i++) expect(await instance.take('addr')).toEqual({ allowed: true });
  });
});
