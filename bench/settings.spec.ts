import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { GATEWAY_NODE_OPTIONS, readSettings } from './settings.js';

describe('bench settings', () => {
  it("runs the gateway with the image's NODE_OPTIONS (apps/gateway/Dockerfile), so its memory figures are the image's", () => {
    const dockerfile = readFileSync(new URL('../apps/gateway/Dockerfile', import.meta.url), 'utf8');
    const image = /NODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1];
    expect(image).toBe(GATEWAY_NODE_OPTIONS);
    expect(GATEWAY_NODE_OPTIONS).toContain('--max-semi-space-size=16');
  });

  it('reads the quick defaults and explicit values, and names a bad variable', () => {
    expect(readSettings({ BENCH_QUICK: '1' })).toMatchObject({ quick: true, durationSeconds: 1, rounds: 1 });
    expect(readSettings({ BENCH_ROUNDS: '3', BENCH_CLIENTS: '0' })).toMatchObject({
      rounds: 3,
      distinctClients: 0,
    });
    expect(() => readSettings({ BENCH_DURATION_S: 'soon' })).toThrow('BENCH_DURATION_S');
  });
});
