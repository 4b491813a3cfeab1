import { describe, expect, it } from '@jest/globals';
import { RedisStall } from './redis-stall.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RedisStall', () => {
  it('is set by a command timeout only, and cleared by the first probe that answers', async () => {
    const answers = [false, false, true];
    let pings = 0;
    const stall = new RedisStall(() => Promise.resolve(answers[pings++] ?? true), 5);
    stall.noticed(new Error('Connection is closed.'));
    stall.noticed('Command timed out');
    expect(stall.active).toBe(false);
    stall.noticed(new Error('Command timed out'));
    expect(stall.active).toBe(true);
    stall.noticed(new Error('Command timed out'));
    for (let i = 0; i < 100 && stall.active; i++) await sleep(5);
    expect(stall.active).toBe(false);
    expect(pings).toBe(3);
    stall.close();
  });

  it('stops probing when closed', async () => {
    let pings = 0;
    const stall = new RedisStall(() => {
      pings += 1;
      return Promise.resolve(false);
    }, 5);
    stall.noticed(new Error('Command timed out'));
    stall.close();
    await sleep(30);
    expect(pings).toBe(0);
    expect(stall.active).toBe(false);
  });
});
