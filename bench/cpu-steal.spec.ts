import { describe, expect, it } from '@jest/globals';
import { stealMeter } from './cpu-steal.js';

const stat = (user: number, idle: number, steal: number): string =>
  `cpu  ${user} 0 100 ${idle} 0 0 0 ${steal} 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 1\n`;

describe('stealMeter', () => {
  it('gives the share of the CPU time stolen between its start and the call', () => {
    const samples = [stat(1000, 5000, 100), stat(1600, 5200, 300)];
    const steal = stealMeter(() => samples.shift() ?? '');
    // 200 of 1000 ticks (600 user + 200 idle + 200 steal).
    expect(steal()).toBeCloseTo(0.2);
  });

  it('is undefined where /proc/stat cannot be read, makes no sense or did not move', () => {
    expect(
      stealMeter(() => {
        throw new Error('ENOENT');
      })(),
    ).toBeUndefined();
    expect(stealMeter(() => 'cpu  a b c')()).toBeUndefined();
    const same = stat(1, 1, 1);
    expect(stealMeter(() => same)()).toBeUndefined();
  });
});
