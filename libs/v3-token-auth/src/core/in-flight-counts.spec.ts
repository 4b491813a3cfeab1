import { describe, expect, it } from '@jest/globals';
import { InFlightCounts } from './in-flight-counts.js';

describe('InFlightCounts', () => {
  it('counts per key, and forgets a key once none of it is in flight', () => {
    const counts = new InFlightCounts();
    counts.add('a');
    counts.add('a');
    counts.add('b');
    expect([counts.of('a'), counts.of('b'), counts.of('c')]).toEqual([2, 1, 0]);
    counts.remove('a');
    counts.remove('b');
    expect([counts.of('a'), counts.of('b')]).toEqual([1, 0]);
    expect((counts as unknown as { counts: Map<string, number> }).counts.has('b')).toBe(false);
    counts.remove('c');
    expect(counts.of('c')).toBe(0);
  });
});
