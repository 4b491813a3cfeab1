import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  allowedCpus,
  corePlan,
  parseCpuList,
  pinProcess,
  sideBySideRounds,
  summariseSideBySide,
  type SideBySideRound,
  type SideRun,
} from './side-by-side.js';

const run = (requests: number, cpuMs: number, failures = 0): SideRun => ({
  requests,
  cpuMs,
  non2xx: failures,
  errors: 0,
});

describe('parseCpuList and corePlan', () => {
  it('reads a Cpus_allowed_list, ranges and single CPUs, and nothing from anything else', () => {
    expect(parseCpuList('0-3,6\n')).toEqual([0, 1, 2, 3, 6]);
    expect(parseCpuList('1')).toEqual([1]);
    expect(parseCpuList('')).toEqual([]);
    expect(parseCpuList('0-1,x')).toEqual([]);
  });

  it('gives the servers the last CPU the bench may use and everything else the others', () => {
    expect(corePlan([0, 1])).toEqual({ servers: '1', rest: '0' });
    expect(corePlan([0, 1, 2, 3, 6])).toEqual({ servers: '6', rest: '0,1,2,3' });
  });

  it('has no plan with one CPU or none', () => {
    expect(corePlan([1])).toBeUndefined();
    expect(corePlan([])).toBeUndefined();
  });
});

describe('summariseSideBySide', () => {
  it('takes the median of the rounds’ own CPU ratios, their range, and the medians of each side', () => {
    const rounds: SideBySideRound[] = [
      { configuration: run(1000, 130), baseline: run(1000, 100) },
      { configuration: run(2000, 240), baseline: run(2000, 200) },
      { configuration: run(1000, 150, 2), baseline: run(1000, 100, 1) },
    ];
    const summary = summariseSideBySide('gateway-basic', 'gateway, Basic (warm)', rounds);
    expect(summary.rounds).toBe(3);
    expect(summary.cpuRatio).toBeCloseTo(1.3);
    expect(summary.lowestRatio).toBeCloseTo(1.2);
    expect(summary.highestRatio).toBeCloseTo(1.5);
    expect(summary.configurationUs).toBeCloseTo(130);
    expect(summary.baselineUs).toBeCloseTo(100);
    expect(summary.failures).toBe(3);
  });

  it('leaves out a round where a side served nothing or its CPU could not be read', () => {
    const summary = summariseSideBySide('x', 'x', [
      { configuration: run(0, 10), baseline: run(1000, 100) },
      { configuration: run(1000, Number.NaN), baseline: run(1000, 100) },
      { configuration: run(1000, 110), baseline: run(1000, 100) },
    ]);
    expect(summary.rounds).toBe(1);
    expect(summary.cpuRatio).toBeCloseTo(1.1);
  });
});

describe('sideBySideRounds', () => {
  it('starts both sides of a round before either ends, the baseline first in odd rounds', async () => {
    const events: string[] = [];
    const rounds = await sideBySideRounds(3, async (side) => {
      events.push(`start ${side}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      events.push(`end ${side}`);
      return run(side === 'baseline' ? 100 : 200, 10);
    });
    expect(events.slice(0, 2)).toEqual(['start baseline', 'start configuration']);
    expect(events.slice(4, 6)).toEqual(['start configuration', 'start baseline']);
    expect(events.slice(8, 10)).toEqual(['start baseline', 'start configuration']);
    for (const round of rounds) {
      expect(round.baseline.requests).toBe(100);
      expect(round.configuration.requests).toBe(200);
    }
  });
});

describe('pinProcess', () => {
  it('pins every thread of a process to the CPUs given, and says false for a process that does not exist', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const original = allowedCpus(child.pid!);
      expect(original).toBe(allowedCpus(process.pid));
      expect(pinProcess(child.pid!, '0')).toBe(true);
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      expect(/^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1]).toBe('0');
      expect(allowedCpus(child.pid!)).toBe('0');
      expect(pinProcess(child.pid!, original!)).toBe(true);
      expect(allowedCpus(child.pid!)).toBe(original);
    } finally {
      child.kill();
    }
    expect(pinProcess(2 ** 22 + 12345, '0')).toBe(false);
    expect(allowedCpus(2 ** 22 + 12345)).toBeUndefined();
  });
});
