import { describe, it, expect, beforeEach } from '@jest/globals';
import { BoundedTtlCache } from './bounded-ttl.cache.js';

describe('BoundedTtlCache', () => {
  let clock: number;
  const now = (): number => clock;
  beforeEach(() => {
    clock = 1_000;
  });

  it('returns a value until its expiry, then misses and forgets it', () => {
    const cache = new BoundedTtlCache<string>({ now });
    cache.set('a', 'A', 1_500);
    expect(cache.get('a')).toBe('A');
    clock = 1_499;
    expect(cache.get('a')).toBe('A');
    clock = 1_500;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('tells when a live entry expires without counting that as use, and nothing for an expired one', () => {
    const cache = new BoundedTtlCache<string>({ maxEntries: 2, now });
    cache.set('a', 'A', 1_500);
    cache.set('b', 'B', 2_000);
    expect(cache.expiresAt('a')).toBe(1_500);
    cache.set('c', 'C', 2_000);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.expiresAt('missing')).toBeUndefined();
    clock = 2_000;
    expect(cache.expiresAt('b')).toBeUndefined();
  });

  it('evicts the least recently used entry when full, counting reads as use', () => {
    const cache = new BoundedTtlCache<number>({ maxEntries: 3, now });
    cache.set('a', 1, 10_000);
    cache.set('b', 2, 10_000);
    cache.set('c', 3, 10_000);
    expect(cache.get('a')).toBe(1);
    cache.set('d', 4, 10_000);
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([1, 3, 4]);
    cache.set('e', 5, 10_000);
    expect(cache.get('a')).toBeUndefined();
  });

  it('overwrites in place, refreshing expiry and recency without growing', () => {
    const cache = new BoundedTtlCache<string>({ maxEntries: 2, now });
    cache.set('a', 'old', 2_000);
    cache.set('b', 'B', 10_000);
    cache.set('a', 'new', 5_000);
    expect(cache.size).toBe(2);
    cache.set('c', 'C', 10_000);
    expect(cache.get('b')).toBeUndefined();
    clock = 3_000;
    expect(cache.get('a')).toBe('new');
  });

  it('treats an expiry already past as a removal', () => {
    const cache = new BoundedTtlCache<string>({ now });
    cache.set('a', 'A', 5_000);
    cache.set('a', 'stale', 1_000);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('deletes and clears, reporting whether a live entry went away', () => {
    const cache = new BoundedTtlCache<string>({ now });
    cache.set('a', 'A', 5_000);
    cache.set('b', 'B', 1_200);
    expect(cache.delete('a')).toBe(true);
    expect(cache.delete('a')).toBe(false);
    clock = 2_000;
    expect(cache.delete('b')).toBe(false);
    cache.set('c', 'C', 9_000);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get('c')).toBeUndefined();
  });

  it('keeps its list consistent through many mixed operations (model check)', () => {
    const cache = new BoundedTtlCache<number>({ maxEntries: 5, now });
    const model: string[] = [];
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 2_000; i++) {
      const key = keys[random(keys.length)];
      const op = random(3);
      const at = model.indexOf(key);
      if (op === 0) {
        if (at >= 0) model.splice(at, 1);
        else if (model.length === 5) model.shift();
        model.push(key);
        cache.set(key, i, 1_000_000);
      } else if (op === 1) {
        if (at >= 0) {
          model.splice(at, 1);
          model.push(key);
        }
        expect(cache.get(key) !== undefined).toBe(at >= 0);
      } else {
        if (at >= 0) model.splice(at, 1);
        expect(cache.delete(key)).toBe(at >= 0);
      }
      expect(cache.size).toBe(model.length);
    }
  });

  it('rejects a non-positive bound', () => {
    expect(() => new BoundedTtlCache({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
