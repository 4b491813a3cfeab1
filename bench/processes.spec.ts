import { describe, expect, it } from '@jest/globals';
import { clockTicksPerSecond, cpuMsFromStat, cpuTimeMs, memoryOf, procStatus } from './processes.js';

/** A real `/proc/<pid>/stat` line, with 250 ticks of utime and 30 of stime (fields 14 and 15). */
const stat = (comm: string): string =>
  `4242 (${comm}) S 1 4242 4242 0 -1 4194560 19270 0 12 0 250 30 0 0 20 0 11 0 1234567 1190182912 14203 ` +
  '18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0\n';

describe('cpuMsFromStat', () => {
  it('adds utime and stime, in clock ticks, as ms', () => {
    expect(cpuMsFromStat(stat('node'), 100)).toBe(2800);
    expect(cpuMsFromStat(stat('node'), 1000)).toBe(280);
  });

  it('counts the fields after the last ")", whatever the command name holds', () => {
    expect(cpuMsFromStat(stat('a) b (c) 1 2 3'), 100)).toBe(2800);
  });

  it('names a line that is not a stat line', () => {
    expect(() => cpuMsFromStat('no such thing', 100)).toThrow('not a /proc/<pid>/stat line');
    expect(() => cpuMsFromStat('42 (node) S 1 2 3', 100)).toThrow('not a /proc/<pid>/stat line');
  });
});

describe('cpuTimeMs', () => {
  it('reads a live process’s CPU time, as Node itself counts it', () => {
    // Node's reads bracket the two reads of /proc: the window /proc measures lies between the inner and the outer one
    // (both count every thread of the process, as /proc does), whatever else the machine or the process is doing.
    const outerBefore = process.cpuUsage();
    const procBefore = cpuTimeMs(process.pid);
    const innerBefore = process.cpuUsage();
    let inner = process.cpuUsage(innerBefore);
    while (inner.user + inner.system < 200_000) inner = process.cpuUsage(innerBefore);
    const procMs = cpuTimeMs(process.pid) - procBefore;
    const outer = process.cpuUsage(outerBefore);
    const ms = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1000;
    // /proc counts in clock ticks: each of its two reads is rounded down by up to one.
    const tickMs = 1000 / clockTicksPerSecond();
    expect(procMs).toBeGreaterThanOrEqual(ms(inner) - 2 * tickMs);
    expect(procMs).toBeLessThanOrEqual(ms(outer) + 2 * tickMs);
  });

  it('is NaN without a process to read', () => {
    expect(cpuTimeMs(undefined)).toBeNaN();
    expect(cpuTimeMs(2 ** 30)).toBeNaN();
  });
});

describe('procStatus and memoryOf', () => {
  it('reads the fields of a process’s status, and its resident set now and at its peak, in MB', () => {
    const status = procStatus(process.pid);
    expect(status?.get('Pid')).toBe(String(process.pid));
    expect(status?.get('VmRSS')).toMatch(/^\d+ kB$/);
    const { rssMb, peakRssMb } = memoryOf(process.pid);
    expect(rssMb).toBeGreaterThan(10);
    expect(peakRssMb).toBeGreaterThanOrEqual(rssMb);
    expect(rssMb).toBeCloseTo(Number(/^(\d+)/.exec(status!.get('VmRSS')!)![1]) / 1024, -1);
  });

  it('has nothing for a process that does not exist, or none given', () => {
    expect(procStatus(2 ** 22 + 12345)).toBeUndefined();
    expect(memoryOf(2 ** 22 + 12345)).toEqual({ rssMb: 0, peakRssMb: 0 });
    expect(memoryOf(undefined)).toEqual({ rssMb: 0, peakRssMb: 0 });
  });
});
