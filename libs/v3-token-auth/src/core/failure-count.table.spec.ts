import { describe, expect, it } from '@jest/globals';
import { FailureCountTable } from './failure-count.table.js';

function setup(maxEntries: number) {
  const clock = { now: 1_000_000 };
  return { clock, table: new FailureCountTable({ maxEntries, now: () => clock.now }) };
}

describe('FailureCountTable', () => {
  it('counts in a window that the first failure opens and that ends on time', () => {
    const { clock, table } = setup(10);
    expect(table.increment('victim', 1000)).toEqual({ count: 1, resetAt: 1_001_000 });
    clock.now += 500;
    expect(table.increment('victim', 1000)).toEqual({ count: 2, resetAt: 1_001_000 });
    clock.now += 500;
    expect(table.get('victim')).toBeUndefined();
    expect(table.increment('victim', 1000).count).toBe(1);
  });

  it('never lets a flood of one-failure junk keys push out a repeated count', () => {
    const { table } = setup(100);
    for (let i = 0; i < 5; i++) table.increment('victim', 60_000);
    for (let i = 0; i < 10_000; i++) table.increment(`junk-${i}`, 60_000);
    expect(table.get('victim')?.count).toBe(5);
    expect(table.size).toBe(100);
  });

  it('holds no new key when every entry is repeated, and stays bounded', () => {
    const { table } = setup(2);
    table.increment('a', 60_000);
    table.increment('a', 60_000);
    table.increment('b', 60_000);
    table.increment('b', 60_000);
    expect(table.increment('c', 60_000).count).toBe(1);
    expect(table.get('c')).toBeUndefined();
    expect([table.get('a')?.count, table.get('b')?.count]).toEqual([2, 2]);
  });

  it('makes room from expired entries before pushing out a live single', () => {
    const { clock, table } = setup(2);
    table.increment('old', 1000);
    table.increment('live', 60_000);
    clock.now += 1000;
    table.increment('new', 60_000);
    expect(table.get('live')?.count).toBe(1);
    expect(table.get('new')?.count).toBe(1);
    expect(table.size).toBe(2);
  });

  it('answers a count with the ms left in its window', () => {
    const { clock, table } = setup(10);
    expect(table.countInWindow('a', 60_000)).toEqual({ count: 1, resetInMs: 60_000 });
    clock.now += 15_000;
    expect(table.countInWindow('a', 60_000)).toEqual({ count: 2, resetInMs: 45_000 });
    clock.now += 45_000;
    expect(table.countInWindow('a', 60_000)).toEqual({ count: 1, resetInMs: 60_000 });
  });
});
