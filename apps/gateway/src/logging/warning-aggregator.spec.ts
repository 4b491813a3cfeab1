import { describe, it, expect } from '@jest/globals';
import { WarningAggregator } from './warning-aggregator.js';

function aggregator(options: { windowMs?: number; maxKeys?: number } = {}) {
  const clock = { time: 1_000_000, now: () => clock.time };
  const lines: string[] = [];
  const warnings = new WarningAggregator({ ...options, clock, write: (line) => lines.push(line) });
  return { clock, lines, warnings };
}

describe('WarningAggregator', () => {
  it('writes the first warning of a key at once and 499 repeats as one line with their count', () => {
    const { clock, lines, warnings } = aggregator({ windowMs: 10_000 });
    for (let index = 0; index < 500; index++) warnings.warn('throttled:svc', 'Client "svc" throttled');
    expect(lines).toEqual(['Client "svc" throttled']);
    clock.time += 9_999;
    warnings.flush();
    expect(lines).toHaveLength(1);
    clock.time += 1;
    warnings.flush();
    expect(lines).toEqual([
      'Client "svc" throttled',
      'Client "svc" throttled — 499 more times in the last 10 s',
    ]);
    expect(warnings.openWindows).toBe(0);
  });

  it('keeps one window per key, and opens a new one after the last closed', () => {
    const { clock, lines, warnings } = aggregator({ windowMs: 1000 });
    warnings.warn('a', 'A');
    warnings.warn('b', 'B');
    warnings.warn('a', 'A');
    expect(lines).toEqual(['A', 'B']);
    clock.time += 1000;
    warnings.warn('a', 'A');
    expect(lines).toEqual(['A', 'B', 'A — 1 more time in the last 1 s', 'A']);
  });

  it('writes nothing more for a window without repeats, and closes every window on flush(true)', () => {
    const { lines, warnings } = aggregator();
    warnings.warn('a', 'A');
    warnings.warn('b', 'B');
    warnings.warn('b', 'B');
    warnings.flush(true);
    expect(lines).toEqual(['A', 'B', 'B — 1 more time in the last 1 s']);
    expect(warnings.openWindows).toBe(0);
  });

  it('stays bounded: warnings of keys beyond maxKeys share one overflow window', () => {
    const { clock, lines, warnings } = aggregator({ maxKeys: 3, windowMs: 1000 });
    for (let index = 0; index < 1000; index++) warnings.warn(`junk-${index}`, `junk ${index}`);
    expect(warnings.openWindows).toBe(4);
    expect(lines).toEqual([
      'junk 0',
      'junk 1',
      'junk 2',
      'More than 3 distinct warnings in 1 s; counting the rest together',
    ]);
    clock.time += 1000;
    warnings.flush();
    expect(lines.at(-1)).toBe(
      'More than 3 distinct warnings in 1 s; counting the rest together — 996 more times in the last 1 s',
    );
    expect(warnings.openWindows).toBe(0);
  });
});
