import { describe, expect, it } from '@jest/globals';
import { resolveV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import { V3InvalidCredentialsException, V3TooManyAttemptsException } from '../v3-token.exceptions.js';
import { FailSoftTokenStore } from './fail-soft-token.store.js';
import { GrantGate } from './grant.gate.js';
import { TokenFingerprinter } from './token-fingerprint.js';

function setup() {
  const clock = { ms: 1_000_000, now: () => clock.ms };
  const options = resolveV3TokenAuthOptions({
    tokenUrl: 'https://issuer.test/token',
    maxFailedAttempts: 3,
    failedAttemptsWindowMs: 60_000,
    invalidCredentialsTtlMs: 0,
    knownGoodTtlMs: 120_000,
  });
  const throttled: string[] = [];
  const gate = new GrantGate(
    options,
    new TokenFingerprinter('unit-key', options.tokenUrl),
    { throttled: (clientId) => throttled.push(clientId) },
    clock,
    new FailSoftTokenStore(new MemoryTokenStore(), {}),
  );
  const refuse = () => Promise.reject(new V3InvalidCredentialsException(401, 'invalid_client'));
  const grant = () => Promise.resolve('token');
  return { clock, gate, throttled, refuse, grant };
}

describe('GrantGate', () => {
  it('stops the guessing address after maxFailedAttempts and lets the same client through from another', async () => {
    const { gate, throttled, refuse, grant } = setup();
    const guess = (i: number) =>
      gate.attemptOf({ clientId: 'svc', verifier: `wrong-${i}`, callerAddress: '10.0.0.2' });
    for (let i = 0; i < 3; i++)
      await expect(gate.pass(guess(i), 'svc', refuse)).rejects.toThrow(V3InvalidCredentialsException);
    await expect(gate.pass(guess(3), 'svc', grant)).rejects.toThrow(V3TooManyAttemptsException);
    expect(throttled).toEqual(['svc']);

    const owner = gate.attemptOf({ clientId: 'svc', verifier: 'right', callerAddress: '10.0.0.3' });
    await expect(gate.pass(owner, 'svc', grant)).resolves.toBe('token');
  });

  it('never throttles a known-good secret until knownGoodTtlMs ends', async () => {
    const { clock, gate, refuse, grant } = setup();
    const right = gate.attemptOf({ clientId: 'svc', verifier: 'right', callerAddress: '10.0.0.2' });
    const guessAll = async (round: number) => {
      for (let i = 0; i < 3; i++) {
        const wrong = gate.attemptOf({
          clientId: 'svc',
          verifier: `w${round}-${i}`,
          callerAddress: '10.0.0.2',
        });
        await expect(gate.pass(wrong, 'svc', refuse)).rejects.toThrow(V3InvalidCredentialsException);
      }
    };
    await gate.pass(right, 'svc', grant);
    await guessAll(1);
    await expect(gate.pass(right, 'svc', grant)).resolves.toBe('token');

    clock.ms += 120_001; // known-good TTL (and the count's window) over
    await guessAll(2);
    await expect(gate.pass(right, 'svc', grant)).rejects.toThrow(V3TooManyAttemptsException);
  });

  it('without a caller address counts per client, and never counts an issuer failure that is not a refusal', async () => {
    const { gate, grant } = setup();
    const attempt = gate.attemptOf({ clientId: 'svc', verifier: 'any' });
    for (let i = 0; i < 5; i++) {
      await expect(gate.pass(attempt, 'svc', () => Promise.reject(new Error('timeout')))).rejects.toThrow(
        'timeout',
      );
    }
    await expect(gate.pass(attempt, 'svc', grant)).resolves.toBe('token');
  });
});
