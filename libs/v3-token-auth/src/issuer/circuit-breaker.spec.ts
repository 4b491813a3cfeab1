import { describe, it, expect } from '@jest/globals';
import { CircuitBreaker, CircuitOpenError, type CircuitState } from './circuit-breaker.js';

function setup(failureThreshold = 3, resetTimeoutMs = 10_000) {
  const clock = { now: 1_000_000 };
  const states: CircuitState[] = [];
  const breaker = new CircuitBreaker({
    failureThreshold,
    resetTimeoutMs,
    now: () => clock.now,
    observer: { breakerState: (state) => states.push(state) },
  });
  return { clock, states, breaker };
}

const fail = () => Promise.reject(new Error('down'));

describe('CircuitBreaker', () => {
  it('stays closed below the threshold and a success resets the count', async () => {
    const { breaker, states } = setup(3);
    await expect(breaker.execute(fail)).rejects.toThrow('down');
    await expect(breaker.execute(fail)).rejects.toThrow('down');
    await expect(breaker.execute(() => Promise.resolve('ok'))).resolves.toBe('ok');
    await expect(breaker.execute(fail)).rejects.toThrow('down');
    await expect(breaker.execute(fail)).rejects.toThrow('down');
    expect(breaker.state).toBe('closed');
    expect(states).toEqual([]);
  });

  it('opens after N consecutive failures and then fails fast without calling', async () => {
    const { breaker, states, clock } = setup(3, 10_000);
    for (let i = 0; i < 3; i++) await expect(breaker.execute(fail)).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    expect(states).toEqual(['open']);

    let called = false;
    clock.now += 2_500;
    const error = await breaker
      .execute(() => {
        called = true;
        return Promise.resolve();
      })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).retryAfterSeconds).toBe(8);
    expect(breaker.retryAfterSeconds()).toBe(8);
  });

  it('half-opens after the reset timeout, lets exactly one trial through, and closes on its success', async () => {
    const { breaker, states, clock } = setup(1, 1_000);
    await expect(breaker.execute(fail)).rejects.toThrow('down');
    clock.now += 999;
    expect(breaker.state).toBe('open');
    clock.now += 1;
    expect(breaker.state).toBe('half_open');
    expect(breaker.retryAfterSeconds()).toBe(0);

    let release!: () => void;
    const trial = breaker.execute(() => new Promise<string>((resolve) => (release = () => resolve('trial'))));
    await expect(breaker.execute(() => Promise.resolve('second'))).rejects.toBeInstanceOf(CircuitOpenError);
    release();
    await expect(trial).resolves.toBe('trial');
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half_open', 'closed']);
  });

  it('re-opens when the trial fails and restarts the reset timeout', async () => {
    const { breaker, states, clock } = setup(2, 1_000);
    await expect(breaker.execute(fail)).rejects.toThrow();
    await expect(breaker.execute(fail)).rejects.toThrow();
    clock.now += 1_000;
    await expect(breaker.execute(fail)).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    expect(breaker.retryAfterSeconds()).toBe(1);
    clock.now += 500;
    expect(breaker.state).toBe('open');
    clock.now += 500;
    expect(breaker.state).toBe('half_open');
    expect(states).toEqual(['open', 'half_open', 'open', 'half_open']);
  });

  it('counts only the errors isFailure selects; others neither count nor reset the count', async () => {
    const { breaker } = setup(3);
    const isFailure = (error: unknown) => error instanceof Error && error.message === 'down';
    const refused = () => Promise.reject(new Error('refused'));
    await expect(breaker.execute(fail, isFailure)).rejects.toThrow();
    await expect(breaker.execute(refused, isFailure)).rejects.toThrow();
    await expect(breaker.execute(fail, isFailure)).rejects.toThrow();
    for (let i = 0; i < 10; i++) await expect(breaker.execute(refused, isFailure)).rejects.toThrow('refused');
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(fail, isFailure)).rejects.toThrow();
    expect(breaker.state).toBe('open');
  });

  it('frees the half-open trial slot when the trial ends in an error that is no failure, staying half-open', async () => {
    const { breaker, clock } = setup(1);
    const isFailure = (error: unknown) => error instanceof Error && error.message === 'down';
    await expect(breaker.execute(fail, isFailure)).rejects.toThrow('down');
    clock.now += 10_000;
    await expect(breaker.execute(() => Promise.reject(new Error('refused')), isFailure)).rejects.toThrow(
      'refused',
    );
    expect(breaker.state).toBe('half_open');
    await expect(breaker.execute(() => Promise.resolve('trial'), isFailure)).resolves.toBe('trial');
    expect(breaker.state).toBe('closed');
  });

  it('keeps working when the observer throws', async () => {
    const breaker = new CircuitBreaker({
      failureThreshold: 1,
      observer: {
        breakerState: () => {
          throw new Error('observer bug');
        },
      },
    });
    await expect(breaker.execute(fail)).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
  });
});
