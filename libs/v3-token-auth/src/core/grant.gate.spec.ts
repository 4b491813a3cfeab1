import { describe, expect, it } from '@jest/globals';
import { resolveV3TokenAuthOptions } from '../module/v3-token-auth.config.js';
import type { V3TokenAuthModuleOptions } from '../module/v3-token-auth.options.js';
import { MemoryTokenStore } from '../store/memory/memory-token.store.js';
import {
  V3ColdGrantLimitException,
  V3InvalidCredentialsException,
  V3IssuerThrottledException,
  V3ReauthCooldownException,
  V3RequestRefusedException,
  V3TooManyAttemptsException,
} from '../v3-token.exceptions.js';
import { TokenEndpointError } from '../issuer/token-endpoint.error.js';
import { FailSoftTokenStore } from './fail-soft-token.store.js';
import { GrantGate } from './grant.gate.js';
import { TokenFingerprinter } from './token-fingerprint.js';

/** The issuer's 429 `slow_down`, asking for `retryAfterSeconds`. */
const issuerSlowDown = (retryAfterSeconds: number) =>
  Promise.reject(
    new TokenEndpointError({
      kind: 'throttled-by-issuer',
      status: 429,
      error: 'slow_down',
      retryAfterSeconds,
    }),
  );

function setup(overrides: Partial<V3TokenAuthModuleOptions> = {}) {
  const clock = { ms: 1_000_000, now: () => clock.ms };
  const options = resolveV3TokenAuthOptions({
    tokenUrl: 'https://issuer.test/token',
    maxFailedAttempts: 3,
    failedAttemptsWindowMs: 60_000,
    invalidCredentialsTtlMs: 0,
    knownGoodTtlMs: 120_000,
    ...overrides,
  });
  const throttled: string[] = [];
  const refused: string[] = [];
  const gate = new GrantGate(
    options,
    new TokenFingerprinter('unit-key', options.tokenUrl),
    {
      throttled: (clientId) => throttled.push(clientId),
      grantRefused: (reason, clientId) => refused.push(`${reason}:${clientId}`),
    },
    clock,
    new FailSoftTokenStore(new MemoryTokenStore({ now: clock.now }), {}),
  );
  const refuse = () =>
    Promise.reject(new TokenEndpointError({ kind: 'credential', status: 401, error: 'invalid_client' }));
  const grant = () => Promise.resolve('token');
  /** The attempt of `clientId` with `secret` (its verifier too) from `callerAddress`. */
  const caller = (clientId: string, secret: string, callerAddress?: string) =>
    gate.attemptOf({ clientId, verifier: secret, clientSecret: secret, callerAddress });
  return { clock, gate, caller, throttled, refused, refuse, grant };
}

describe('GrantGate', () => {
  it('stops the guessing address after maxFailedAttempts and lets the same client through from another', async () => {
    const { gate, throttled, refuse, grant, caller } = setup();
    const guess = (i: number) => caller('svc', `wrong-${i}`, '10.0.0.2');
    for (let i = 0; i < 3; i++)
      await expect(gate.pass(guess(i), 'svc', refuse)).rejects.toThrow(V3InvalidCredentialsException);
    await expect(gate.pass(guess(3), 'svc', grant)).rejects.toThrow(V3TooManyAttemptsException);
    // The address is what is stopped, and the answer says so (not "this client", which the owner would read as a lock).
    await expect(gate.pass(guess(4), 'svc', grant)).rejects.toThrow(/from this address/);
    expect(throttled).toEqual(['svc', 'svc']);

    const owner = caller('svc', 'right', '10.0.0.3');
    await expect(gate.pass(owner, 'svc', grant)).resolves.toBe('token');
  });

  it('never throttles a known-good secret until knownGoodTtlMs ends', async () => {
    const { clock, gate, refuse, grant, caller } = setup();
    const right = caller('svc', 'right', '10.0.0.2');
    const guessAll = async (round: number) => {
      for (let i = 0; i < 3; i++) {
        const wrong = caller('svc', `w${round}-${i}`, '10.0.0.2');
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
    const { gate, grant, caller } = setup();
    const attempt = caller('svc', 'any');
    for (let i = 0; i < 5; i++) {
      await expect(gate.pass(attempt, 'svc', () => Promise.reject(new Error('timeout')))).rejects.toThrow(
        'timeout',
      );
    }
    await expect(gate.pass(attempt, 'svc', grant)).resolves.toBe('token');
  });

  it('passes a refused request on as 400 with the issuer error, never remembering or counting it', async () => {
    const { gate, grant, caller } = setup({ invalidCredentialsTtlMs: 60_000 });
    const attempt = caller('svc', 'right', '10.0.0.2');
    const invalidScope = () =>
      Promise.reject(new TokenEndpointError({ kind: 'request', status: 400, error: 'invalid_scope' }));
    for (let i = 0; i < 10; i++) {
      const error = await gate.pass(attempt, 'svc', invalidScope).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(V3RequestRefusedException);
      expect((error as V3RequestRefusedException).getStatus()).toBe(400);
      expect((error as V3RequestRefusedException).oauthError).toBe('invalid_scope');
    }
    await expect(gate.pass(attempt, 'svc', grant)).resolves.toBe('token');
  });

  it('remembers invalid_client per client id for an address that already failed: one issuer call per TTL', async () => {
    const { clock, gate, refuse, grant, caller } = setup({
      invalidCredentialsTtlMs: 10_000,
      maxFailedAttempts: 100,
    });
    let calls = 0;
    const counted = () => {
      calls += 1;
      return refuse();
    };
    for (let i = 0; i < 20; i++) {
      const junk = caller('junk', `guess-${i}`, '10.0.0.2');
      await expect(gate.pass(junk, 'junk', counted)).rejects.toThrow(V3InvalidCredentialsException);
    }
    expect(calls).toBe(1);
    const elsewhere = caller('junk', 'other', '10.0.0.3');
    await expect(gate.pass(elsewhere, 'junk', grant)).resolves.toBe('token');
    clock.ms += 10_001;
    const later = caller('junk', 'later', '10.0.0.2');
    await expect(gate.pass(later, 'junk', counted)).rejects.toThrow(V3InvalidCredentialsException);
    expect(calls).toBe(2);
  });

  it("honours the issuer's 429 for that client until its Retry-After, leaving other clients alone", async () => {
    const { clock, gate, refused, grant, caller } = setup();
    const slowDown = () => issuerSlowDown(30);
    const svc = caller('svc', 'right', '10.0.0.2');
    const first = await gate.pass(svc, 'svc', slowDown).catch((error: unknown) => error);
    expect(first).toBeInstanceOf(V3IssuerThrottledException);
    expect((first as V3IssuerThrottledException).headers['Retry-After']).toBe('30');
    clock.ms += 10_000;
    let called = false;
    const second = await gate
      .pass(svc, 'svc', () => ((called = true), grant()))
      .catch((error: unknown) => error);
    expect(second).toBeInstanceOf(V3IssuerThrottledException);
    expect((second as V3IssuerThrottledException).headers['Retry-After']).toBe('20');
    expect(called).toBe(false);
    expect(refused).toEqual(['issuer_throttled:svc']);
    const other = caller('other', 'right', '10.0.0.2');
    await expect(gate.pass(other, 'other', grant)).resolves.toBe('token');
    clock.ms += 20_000;
    await expect(gate.pass(svc, 'svc', grant)).resolves.toBe('token');
  });

  it('caps cold grants per caller address per minute, but never for a known-good secret', async () => {
    const { clock, gate, refused, grant, caller } = setup({ coldGrantsPerAddressPerMinute: 3 });
    const cold = (i: number, address = '10.0.0.2') => caller(`client-${i}`, `secret-${i}`, address);
    for (let i = 0; i < 3; i++) await expect(gate.pass(cold(i), `client-${i}`, grant)).resolves.toBe('token');
    const limited = await gate.pass(cold(3), 'client-3', grant).catch((error: unknown) => error);
    expect(limited).toBeInstanceOf(V3ColdGrantLimitException);
    expect((limited as V3ColdGrantLimitException).getStatus()).toBe(429);
    expect((limited as V3ColdGrantLimitException).headers['Retry-After']).toBe('60');
    expect(refused).toEqual(['cold_grant_limit:client-3']);
    await expect(gate.pass(cold(0), 'client-0', grant)).resolves.toBe('token');
    await expect(gate.pass(cold(4, '10.0.0.3'), 'client-4', grant)).resolves.toBe('token');
    clock.ms += 60_000;
    await expect(gate.pass(cold(3), 'client-3', grant)).resolves.toBe('token');
  });

  it('after a downstream refusal allows the credentials one re-grant per reauthCooldownMs, and no one else is stopped', async () => {
    const { clock, gate, refused, grant, caller } = setup({ reauthCooldownMs: 30_000 });
    const owner = caller('svc', 'right', '10.0.0.2');
    await gate.pass(owner, 'svc', grant);
    await gate.refusedDownstream(owner.secretTag);
    await expect(gate.pass(owner, 'svc', grant)).resolves.toBe('token');
    const cooled = gate.pass(owner, 'svc', grant);
    await expect(cooled).rejects.toThrow(V3ReauthCooldownException);
    await expect(cooled).rejects.toMatchObject({
      retryAfterSeconds: 30,
      oauthError: 'invalid_token',
      headers: expect.objectContaining({ 'Retry-After': '30' }) as unknown,
    });
    expect(refused).toEqual(['reauth_cooldown:svc']);
    // The throttle's own checks (admit) never stop these credentials: only the issuer call is held back.
    await expect(gate.admit(owner, 'svc')).resolves.toEqual(expect.any(Function));

    const otherSecret = caller('svc', 'rotated', '10.0.0.2');
    await expect(gate.pass(otherSecret, 'svc', grant)).resolves.toBe('token');
    clock.ms += 30_000;
    await expect(gate.pass(owner, 'svc', grant)).resolves.toBe('token');
  });

  it('gives the re-grant back when the issuer fails it, and keeps it spent when the issuer refuses the secret', async () => {
    const { gate, grant, refuse, caller } = setup({ reauthCooldownMs: 30_000, maxFailedAttempts: 100 });
    const unavailable = () =>
      Promise.reject(
        new TokenEndpointError({ kind: 'issuer', status: 503, error: 'temporarily_unavailable' }),
      );
    const owner = caller('svc', 'right', '10.0.0.2');
    await gate.refusedDownstream(owner.secretTag);
    await expect(gate.pass(owner, 'svc', unavailable)).rejects.toMatchObject({ status: 503 });
    // The issuer's outage did not use up the window: the next grant is the re-grant.
    await expect(gate.pass(owner, 'svc', grant)).resolves.toBe('token');
    await expect(gate.pass(owner, 'svc', grant)).rejects.toThrow(V3ReauthCooldownException);

    const guessed = caller('svc', 'guessed', '10.0.0.2');
    await gate.refusedDownstream(guessed.secretTag);
    await expect(gate.pass(guessed, 'svc', refuse)).rejects.toThrow(V3InvalidCredentialsException);
    await expect(gate.pass(guessed, 'svc', grant)).rejects.toThrow(V3ReauthCooldownException);
  });
  it("never answers the owner from an attacker's invalid_client: the refusal is remembered for the guessing address only", async () => {
    const { gate, refuse, grant, caller } = setup({
      invalidCredentialsTtlMs: 10_000,
      maxFailedAttempts: 100,
    });
    // The owner's address (a shared NAT) had one typo of its own, for another client.
    const typo = caller('other', 'typo', '10.0.0.9');
    await expect(gate.pass(typo, 'other', refuse)).rejects.toThrow(V3InvalidCredentialsException);
    // One guess for the owner's client id, from the attacker's address.
    const guess = caller('svc', 'guess', '10.0.0.66');
    await expect(gate.pass(guess, 'svc', refuse)).rejects.toThrow(V3InvalidCredentialsException);
    // The owner's right secret, never seen before, goes to the issuer.
    let asked = 0;
    const owner = caller('svc', 'right', '10.0.0.9');
    await expect(
      gate.pass(owner, 'svc', () => {
        asked += 1;
        return grant();
      }),
    ).resolves.toBe('token');
    expect(asked).toBe(1);
  });

  it("lets a known-good secret past an issuer 429 that an attacker's wrong secrets drew for the client", async () => {
    const { gate, grant, caller } = setup();
    const owner = caller('svc', 'right', '10.0.0.2');
    await expect(gate.pass(owner, 'svc', grant)).resolves.toBe('token');
    const slowDown = () => issuerSlowDown(600);
    const guess = caller('svc', 'guess', '10.0.0.66');
    await expect(gate.pass(guess, 'svc', slowDown)).rejects.toThrow(V3IssuerThrottledException);
    // The attacker's next guess is held back without asking the issuer; the owner's known-good secret is not.
    await expect(gate.pass(guess, 'svc', grant)).rejects.toThrow(V3IssuerThrottledException);
    await expect(gate.pass(owner, 'svc', grant)).resolves.toBe('token');
  });

  it('gives one secret one known-good tag whatever it asks for, so known-good on one route is known-good on all', () => {
    const { gate, caller } = setup();
    const a = caller('svc', 'right', '10.0.0.2');
    const b = caller('svc', 'right', '10.0.0.3');
    const other = caller('svc', 'rotated', '10.0.0.2');
    const user = gate.attemptOf({
      clientId: 'svc',
      username: 'u',
      verifier: 'right',
      clientSecret: 'right',
      password: 'p',
    });
    const forOtherScope = gate.attemptOf({ clientId: 'svc', verifier: 'per-scope', clientSecret: 'right' });
    expect(a.knownGoodTag).toBe(b.knownGoodTag);
    expect(forOtherScope.knownGoodTag).toBe(a.knownGoodTag);
    expect(forOtherScope.secretTag).not.toBe(a.secretTag);
    expect(new Set([a.knownGoodTag, other.knownGoodTag, user.knownGoodTag]).size).toBe(3);
    expect(a.knownGoodTag).not.toContain('right');
  });

  it('lets no more concurrent guesses for one client from one address reach the issuer than its limit allows', async () => {
    const { gate, grant, caller } = setup({ maxFailedAttempts: 3, coldGrantsPerAddressPerMinute: 0 });
    let asked = 0;
    let answer: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const slowRefusal = async (): Promise<string> => {
      asked += 1;
      await answered;
      throw new TokenEndpointError({ kind: 'credential', status: 401, error: 'invalid_client' });
    };
    const guesses = Array.from({ length: 50 }, (_, i) =>
      gate.pass(caller('svc', `g${i}`, '10.0.0.66'), 'svc', slowRefusal),
    );
    const outcomes = Promise.allSettled(guesses);
    await new Promise((resolve) => setImmediate(resolve));
    answer();
    const settled = await outcomes;
    expect(asked).toBe(3);
    expect(
      settled.filter((o) => o.status === 'rejected' && o.reason instanceof V3TooManyAttemptsException),
    ).toHaveLength(47);
    // Distinct clients at the same address hold nothing of each other's.
    const neighbours = Array.from({ length: 10 }, (_, i) =>
      gate.pass(caller(`n${i}`, 'right', '10.0.0.67'), `n${i}`, grant),
    );
    await expect(Promise.all(neighbours)).resolves.toHaveLength(10);
  });

  it("never replays one caller's issuer description to another secret of the client answered from memory", async () => {
    const { gate, caller } = setup({ invalidCredentialsTtlMs: 10_000, maxFailedAttempts: 100 });
    const described = () =>
      Promise.reject(
        new TokenEndpointError({
          kind: 'credential',
          status: 401,
          error: 'invalid_client',
          errorDescription: 'secret 6f776e6572 is not the one on file',
        }),
      );
    const first = caller('svc', 'a', '10.0.0.2');
    await expect(gate.pass(first, 'svc', described)).rejects.toThrow(/6f776e6572/);
    const second = caller('svc', 'b', '10.0.0.2');
    const fromMemory = await gate
      .pass(second, 'svc', () => Promise.resolve('asked'))
      .catch((error: Error) => error);
    expect(fromMemory).toBeInstanceOf(V3InvalidCredentialsException);
    expect(JSON.stringify((fromMemory as V3InvalidCredentialsException).getResponse())).not.toContain(
      '6f776e6572',
    );
  });
});
