import { describe, expect, it } from '@jest/globals';
import { MemoryCredentialThrottleStore } from '../store/memory/memory-credential-throttle.store.js';
import { CredentialThrottle, type CredentialAttempt } from './credential-throttle.js';

function setup() {
  const clock = { now: 1_000_000 };
  const now = () => clock.now;
  const throttle = new CredentialThrottle({
    maxFailuresPerAddress: 10,
    addressWindowMs: 60_000,
    maxFailuresPerClient: 20,
    clientWindowMs: 60_000,
    cleanAddressAllowance: 3,
    knownGoodTtlMs: 7 * 24 * 3_600_000,
    store: new MemoryCredentialThrottleStore({ now }),
    now,
  });
  return { clock, throttle };
}

const attempt = (addressKey: string, secretTag: string, clientKey = 'victim'): CredentialAttempt => ({
  clientKey,
  addressKey,
  secretTag,
  knownGoodTag: secretTag,
});

async function fail(throttle: CredentialThrottle, times: number, from: CredentialAttempt) {
  for (let i = 0; i < times; i++)
    await throttle.recordFailure({ ...from, secretTag: `guess-${i}`, knownGoodTag: `guess-${i}` });
}

describe('CredentialThrottle', () => {
  it('stops an address after its own limit, for every client id it names', async () => {
    const { throttle } = setup();
    await fail(throttle, 10, attempt('attacker', 'x', 'some-client'));
    expect(await throttle.decide(attempt('attacker', 'guess', 'other-client'))).toEqual({
      allowed: false,
      reason: 'address',
      retryAfterMs: 60_000,
    });
    expect((await throttle.decide(attempt('owner', 'secret', 'other-client'))).allowed).toBe(true);
  });

  it('lets the owner with a known-good secret through however many failures the client has', async () => {
    const { throttle, clock } = setup();
    await throttle.recordSuccess(attempt('owner', 'right'));
    for (let a = 0; a < 10; a++) await fail(throttle, 10, attempt(`attacker-${a}`, 'x'));
    clock.now += 6 * 24 * 3_600_000;
    expect(await throttle.decide(attempt('owner', 'right'))).toEqual({ allowed: true, reason: 'known_good' });
    expect(await throttle.decide(attempt('attacker-0', 'right'))).toEqual({
      allowed: true,
      reason: 'known_good',
    });
  });

  it('forgets a known-good secret after knownGoodTtlMs', async () => {
    const { throttle, clock } = setup();
    await throttle.recordSuccess(attempt('owner', 'right'));
    clock.now += 7 * 24 * 3_600_000;
    expect((await throttle.decide(attempt('owner', 'right'))).reason).toBe('under_limits');
  });

  it('slows unknown secrets of a client under attack to a small allowance per clean address', async () => {
    const { throttle } = setup();
    for (let a = 0; a < 3; a++) await fail(throttle, 7, attempt(`attacker-${a}`, 'x'));
    expect(await throttle.decide(attempt('owner', 'new-secret'))).toEqual({
      allowed: true,
      reason: 'clean_address',
    });
    await fail(throttle, 3, attempt('owner', 'x'));
    expect(await throttle.decide(attempt('owner', 'new-secret'))).toMatchObject({
      allowed: false,
      reason: 'client',
    });
    expect(await throttle.decide(attempt('attacker-0', 'guess'))).toMatchObject({
      allowed: false,
      reason: 'client',
    });
  });

  it('does not let a success wipe the address count', async () => {
    const { throttle } = setup();
    await fail(throttle, 10, attempt('attacker', 'x'));
    await throttle.recordSuccess(attempt('attacker', 'own-secret', 'attackers-own-client'));
    expect((await throttle.decide(attempt('attacker', 'guess'))).allowed).toBe(false);
  });

  it('reopens an address once its window ends', async () => {
    const { throttle, clock } = setup();
    await fail(throttle, 10, attempt('attacker', 'x'));
    clock.now += 60_000;
    expect((await throttle.decide(attempt('attacker', 'guess', 'fresh'))).allowed).toBe(true);
  });

  it('reports the standing the refused-client memory needs', async () => {
    const { throttle } = setup();
    await throttle.recordSuccess(attempt('owner', 'right'));
    await fail(throttle, 2, attempt('attacker', 'x'));
    expect(await throttle.standing(attempt('owner', 'right'))).toEqual({
      knownGood: true,
      addressFailures: 0,
    });
    expect(await throttle.standing(attempt('attacker', 'y'))).toEqual({
      knownGood: false,
      addressFailures: 2,
    });
  });
});
