import { describe, expect, it } from '@jest/globals';
import { VerifiedJwtCache } from './verified-jwt.cache.js';

describe('VerifiedJwtCache', () => {
  it('answers a value until it expires, by an injected clock', () => {
    let now = 1000;
    const cache = new VerifiedJwtCache<string>(10, () => now);
    cache.set('token-a', 'principal-a', 2000);
    expect(cache.get('token-a')).toBe('principal-a');
    now = 2000;
    expect(cache.get('token-a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never stores an already expired value', () => {
    const cache = new VerifiedJwtCache<string>(10, () => 5000);
    cache.set('token-a', 'principal-a', 5000);
    expect(cache.size).toBe(0);
  });

  it('is bounded: the least recently used goes first', () => {
    const cache = new VerifiedJwtCache<string>(2, () => 0);
    cache.set('a', 'A', 10);
    cache.set('b', 'B', 10);
    expect(cache.get('a')).toBe('A');
    cache.set('c', 'C', 10);
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    expect(cache.get('c')).toBe('C');
  });
});
