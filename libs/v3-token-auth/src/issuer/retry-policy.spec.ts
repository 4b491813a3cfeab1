import { describe, it, expect } from '@jest/globals';
import {
  MAX_RETRY_AFTER_SECONDS,
  backoffDelayMs,
  parseRetryAfter,
  resolveRetryOptions,
} from './retry-policy.js';

describe('resolveRetryOptions', () => {
  it('applies the defaults and clamps nonsense', () => {
    expect(resolveRetryOptions()).toEqual({ attempts: 3, baseDelayMs: 100, maxDelayMs: 2000 });
    expect(resolveRetryOptions({ attempts: 0, baseDelayMs: -1, maxDelayMs: -5 })).toEqual({
      attempts: 1,
      baseDelayMs: 0,
      maxDelayMs: 0,
    });
  });
});

describe('backoffDelayMs', () => {
  const options = resolveRetryOptions({ baseDelayMs: 100, maxDelayMs: 1000 });

  it('grows exponentially under full jitter', () => {
    const top = () => 0.999999;
    expect(backoffDelayMs(1, options, top)).toBe(99);
    expect(backoffDelayMs(2, options, top)).toBe(199);
    expect(backoffDelayMs(3, options, top)).toBe(399);
    expect(backoffDelayMs(1, options, () => 0)).toBe(0);
    expect(backoffDelayMs(2, options, () => 0.5)).toBe(100);
  });

  it('never exceeds maxDelayMs', () => {
    for (let attempt = 1; attempt < 40; attempt++) {
      expect(backoffDelayMs(attempt, options, () => 0.999999)).toBeLessThan(1000);
    }
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP-date relative to now', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
  });

  it('caps huge values and ignores unreadable ones', () => {
    expect(parseRetryAfter('99999999', now)).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-3', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
  });
});
