import type { V3TokenAuthObserver } from '../module/v3-token-auth.observer.js';

/** `closed`: calls pass. `open`: calls fail fast. `half_open`: one trial call decides. */
export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. @default 5 */
  failureThreshold?: number;
  /** How long the circuit stays open before one trial call, ms. @default 10000 */
  resetTimeoutMs?: number;
  /** Told about every state change. */
  observer?: Pick<V3TokenAuthObserver, 'breakerState'>;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/** Raised by `CircuitBreaker.execute` instead of calling through while the circuit is open. */
export class CircuitOpenError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`The circuit is open; next trial in ${retryAfterSeconds} s`);
    this.name = 'CircuitOpenError';
  }
}

/**
 * A consecutive-failure circuit breaker: `closed` → `open` after `failureThreshold` failures in a row →
 * `half_open` once `resetTimeoutMs` has passed, letting exactly one trial call through → `closed` when it
 * succeeds, `open` again when it fails.
 *
 * @example
 * const breaker = new CircuitBreaker({ failureThreshold: 5, resetTimeoutMs: 10_000 });
 * await breaker.execute(() => callIssuer(), (error) => error instanceof V3IssuerUnavailableException);
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private readonly failureThreshold: number;
  private readonly resetTimeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions = {}) {
    this.failureThreshold = Math.max(1, Math.floor(options.failureThreshold ?? 5));
    this.resetTimeoutMs = Math.max(0, options.resetTimeoutMs ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  /** The current state; an open circuit whose reset timeout has passed reads (and becomes) `half_open`. */
  get state(): CircuitState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.resetTimeoutMs) {
      this.transition('half_open');
    }
    return this.current;
  }

  /** Whole seconds until the circuit lets a trial call through; 0 when calls may pass now. */
  retryAfterSeconds(): number {
    const state = this.state;
    if (state === 'open') return Math.ceil((this.openedAt + this.resetTimeoutMs - this.now()) / 1000);
    if (state === 'half_open' && this.trialInFlight) return 1;
    return 0;
  }

  /**
   * Whether a call may go through now. In `half_open`, only the first caller gets `true` until it reports back
   * with `recordSuccess()` or `recordFailure()`.
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.trialInFlight = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  /** A call ended without telling anything about the remote end (e.g. it never left a full queue). */
  recordNeutral(): void {
    this.trialInFlight = false;
  }

  recordFailure(): void {
    this.trialInFlight = false;
    this.failures += 1;
    if (
      this.current === 'half_open' ||
      (this.current === 'closed' && this.failures >= this.failureThreshold)
    ) {
      this.openedAt = this.now();
      this.transition('open');
    }
  }

  /**
   * Runs `call` when the circuit allows it and records its outcome.
   * @param isFailure decides which errors count against the circuit; any other error leaves it as it is (neither
   *   a failure nor a success: a refused request says nothing about the remote end's health, and a half-open
   *   trial that ends so frees the trial slot for the next call).
   * @throws CircuitOpenError without calling `call` while the circuit is open.
   */
  async execute<T>(call: () => Promise<T>, isFailure: (error: unknown) => boolean = () => true): Promise<T> {
    if (!this.tryAcquire()) throw new CircuitOpenError(this.retryAfterSeconds());
    let result: T;
    try {
      result = await call();
    } catch (error) {
      if (isFailure(error)) this.recordFailure();
      else this.recordNeutral();
      throw error;
    }
    this.recordSuccess();
    return result;
  }

  private transition(state: CircuitState): void {
    this.current = state;
    try {
      this.options.observer?.breakerState?.(state);
    } catch {
      // An observer must never break the breaker.
    }
  }
}
