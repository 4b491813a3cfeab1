import { describe, expect, it } from '@jest/globals';
import { IssuerCallQueue } from './issuer-call.queue.js';
import { IssuerQueueFullError } from './issuer-queue-full.error.js';

function deferred() {
  let resolve!: (value: string) => void;
  const promise = new Promise<string>((r) => (resolve = r));
  return { promise, resolve };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('IssuerCallQueue', () => {
  it('runs at most `concurrency` calls and starts a waiter only when a slot frees', async () => {
    const queue = new IssuerCallQueue({ concurrency: 2, maxWaiting: 5 });
    const calls = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const results = calls.map((call, i) =>
      queue.run(() => {
        started.push(i);
        return call.promise;
      }),
    );
    await settle();
    expect(started).toEqual([0, 1]);
    expect([queue.active, queue.waiting]).toEqual([2, 1]);
    calls[0].resolve('a');
    await settle();
    expect(started).toEqual([0, 1, 2]);
    calls[1].resolve('b');
    calls[2].resolve('c');
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c']);
    expect([queue.active, queue.waiting]).toEqual([0, 0]);
  });

  it('rejects at once, without calling, when the waiters are full: a 503 with Retry-After', async () => {
    const rejected: string[] = [];
    const queue = new IssuerCallQueue({
      concurrency: 1,
      maxWaiting: 1,
      observer: { queueRejected: (reason) => rejected.push(reason) },
    });
    const hold = deferred();
    const first = queue.run(() => hold.promise);
    const second = queue.run(() => Promise.resolve('second'));
    let called = false;
    const error = await queue
      .run(() => {
        called = true;
        return Promise.resolve('third');
      })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(error).toBeInstanceOf(IssuerQueueFullError);
    expect((error as IssuerQueueFullError).getStatus()).toBe(503);
    expect((error as IssuerQueueFullError).headers['Retry-After']).toBe('1');
    expect(rejected).toEqual(['full']);
    hold.resolve('first');
    expect([await first, await second]).toEqual(['first', 'second']);
  });

  it('starts a call’s time when it is sent: a waiter past maxWaitMs is rejected, never sent late', async () => {
    const clock = { now: 0 };
    const queue = new IssuerCallQueue({
      concurrency: 1,
      maxWaiting: 4,
      maxWaitMs: 1000,
      now: () => clock.now,
    });
    const hold = deferred();
    const sentAt: number[] = [];
    const first = queue.run(() => hold.promise);
    const late = queue.run(() => Promise.resolve('late')).catch((e: unknown) => e);
    clock.now = 500;
    const inTime = queue.run(() => {
      sentAt.push(clock.now);
      return Promise.resolve('in time');
    });
    clock.now = 1200;
    hold.resolve('first');
    expect(await first).toBe('first');
    expect(await late).toMatchObject({ reason: 'waited_too_long' });
    expect(await inTime).toBe('in time');
    expect(sentAt).toEqual([1200]);
  });

  it('frees the slot of a call that failed', async () => {
    const queue = new IssuerCallQueue({ concurrency: 1, maxWaiting: 0 });
    await expect(queue.run(() => Promise.reject(new Error('issuer down')))).rejects.toThrow('issuer down');
    expect(await queue.run(() => Promise.resolve('next'))).toBe('next');
  });
});
