import { describe, expect, it } from '@jest/globals';
import { RefusedClientMemory } from './refused-client.memory.js';

const dirty = { knownGood: false, addressFailures: 1 };

function setup(maxEntries = 100) {
  const clock = { now: 0 };
  return {
    clock,
    memory: new RefusedClientMemory<string>({ ttlMs: 10_000, maxEntries, now: () => clock.now }),
  };
}

describe('RefusedClientMemory', () => {
  it('answers a remembered refusal per client id, whatever the secret, until the TTL ends', () => {
    const { clock, memory } = setup();
    memory.remember('unknown-id', 'invalid_client');
    expect(memory.recall('unknown-id', dirty)).toBe('invalid_client');
    clock.now = 9_999;
    expect(memory.recall('unknown-id', { knownGood: false, addressFailures: 4 })).toBe('invalid_client');
    clock.now = 10_000;
    expect(memory.recall('unknown-id', dirty)).toBeUndefined();
  });

  it('never applies to a known-good secret nor to an address without failures of its own', () => {
    const { memory } = setup();
    memory.remember('victim', 'invalid_client');
    expect(memory.recall('victim', { knownGood: true, addressFailures: 9 })).toBeUndefined();
    expect(memory.recall('victim', { knownGood: false, addressFailures: 0 })).toBeUndefined();
    expect(memory.recall('victim', dirty)).toBe('invalid_client');
  });

  it('stays bounded and forgets on success', () => {
    const { memory } = setup(2);
    memory.remember('a', 'x');
    memory.remember('b', 'x');
    memory.remember('c', 'x');
    expect([memory.recall('a', dirty), memory.recall('b', dirty), memory.recall('c', dirty)]).toEqual([
      undefined,
      'x',
      'x',
    ]);
    memory.forget('b');
    expect(memory.recall('b', dirty)).toBeUndefined();
  });
});
