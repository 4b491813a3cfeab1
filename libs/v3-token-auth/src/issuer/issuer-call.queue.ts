import { IssuerQueueFullError } from './issuer-queue-full.error.js';

/** Options of {@link IssuerCallQueue}. */
export interface IssuerCallQueueOptions {
  /** Calls in flight at once: the connections of the issuer's pool. @default 16 */
  concurrency?: number;
  /** Calls that may wait for a free slot; one more is rejected at once. @default 64 */
  maxWaiting?: number;
  /** Longest a call may wait for a slot before it is rejected, ms. @default 5000 */
  maxWaitMs?: number;
  /** Told about every change of the queue's depth (waiting calls) and every rejection. */
  observer?: {
    queueDepth?(waiting: number, active: number): void;
    queueRejected?(reason: 'full' | 'waited_too_long'): void;
  };
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

interface Waiter {
  start: () => void;
  reject: (error: IssuerQueueFullError) => void;
  deadline: number;
}

/**
 * The calls to one issuer: at most `concurrency` in flight and `maxWaiting` waiting; one queue per issuer (token
 * URL). A call is started only when a slot is free, so its own timeout (started inside `call`) counts from the
 * moment it is sent, never while it waits. A full queue, or a wait past `maxWaitMs`, rejects with
 * {@link IssuerQueueFullError} (503 + `Retry-After`), which is no failure of the issuer.
 *
 * Sets no timers: a waiter past its deadline is rejected when a slot frees or a new call arrives, and every call
 * in flight ends by its own timeout.
 * @example
 * const queue = new IssuerCallQueue({ concurrency: 16, maxWaiting: 64 });
 * const response = await queue.run(() => breaker.execute(() => client.post(grant, AbortSignal.timeout(5000))));
 */
export class IssuerCallQueue {
  private readonly waiters: Waiter[] = [];
  private inFlight = 0;
  private readonly concurrency: number;
  private readonly maxWaiting: number;
  private readonly maxWaitMs: number;
  private readonly now: () => number;

  constructor(private readonly options: IssuerCallQueueOptions = {}) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 16));
    this.maxWaiting = Math.max(0, Math.floor(options.maxWaiting ?? 64));
    this.maxWaitMs = Math.max(0, options.maxWaitMs ?? 5000);
    this.now = options.now ?? Date.now;
  }

  /** Calls waiting for a slot. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Calls in flight. */
  get active(): number {
    return this.inFlight;
  }

  /**
   * Runs `call` once a slot is free.
   * @throws IssuerQueueFullError without calling `call` when the queue is full or the wait exceeds `maxWaitMs`.
   */
  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.concurrency) await this.waitForSlot();
    else this.inFlight += 1;
    this.reportDepth();
    try {
      return await call();
    } finally {
      this.release();
    }
  }

  private waitForSlot(): Promise<void> {
    this.rejectOverdue();
    if (this.waiters.length >= this.maxWaiting) return Promise.reject(this.rejection('full'));
    return new Promise<void>((start, reject) => {
      this.waiters.push({ start, reject, deadline: this.now() + this.maxWaitMs });
      this.reportDepth();
    });
  }

  private release(): void {
    this.rejectOverdue();
    const next = this.waiters.shift();
    if (next === undefined) this.inFlight -= 1;
    else next.start();
    this.reportDepth();
  }

  private rejectOverdue(): void {
    const now = this.now();
    while (this.waiters.length > 0 && now > this.waiters[0].deadline) {
      this.waiters.shift()?.reject(this.rejection('waited_too_long'));
    }
  }

  private rejection(reason: 'full' | 'waited_too_long'): IssuerQueueFullError {
    this.options.observer?.queueRejected?.(reason);
    return new IssuerQueueFullError(reason);
  }

  private reportDepth(): void {
    this.options.observer?.queueDepth?.(this.waiters.length, this.inFlight);
  }
}
