/** Why a request was not let through to its downstream. */
export type AdmissionRefusal =
  /** The caller address already has `maxPerClient` requests in flight on this route. */
  | 'client-cap'
  /** No downstream connection came free within the queue timeout. */
  | 'queue-timeout';

/** A request waiting for a downstream connection. */
interface Waiter {
  client: string;
  timer: NodeJS.Timeout | undefined;
  admitted: () => void;
  refused: (reason: AdmissionRefusal) => void;
  settled: boolean;
}

/** How many requests one route lets through, and how long the rest may wait. */
export interface RouteAdmissionOptions {
  /** Requests in flight to the downstream at most: its pool's connections. */
  capacity: number;
  /** How long a request waits for a free slot, ms; `0` refuses at once. */
  queueTimeoutMs: number;
  /** Requests one caller address may have in flight or waiting; `0` is no cap. */
  maxPerClient: number;
}

/**
 * The admission of one route's requests to its downstream pool: at most `capacity` in flight, the rest wait in
 * arrival order for at most `queueTimeoutMs` (then `queue-timeout`), and no caller address holds more than
 * `maxPerClient` of them, waiting ones included (else `client-cap`). Without contention `admit` calls `admitted`
 * synchronously and allocates nothing but the per-client count (none without a cap) and its release handle.
 */
export class RouteAdmission {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  /** Requests in flight or waiting per caller address; not kept without a cap (`maxPerClient` 0). */
  private readonly perClient = new Map<string, number>();
  private readonly counting: boolean;

  constructor(private readonly options: RouteAdmissionOptions) {
    this.counting = options.maxPerClient > 0;
  }

  /**
   * Lets the request of `client` through now (`admitted`), later, or never (`refused`). Returns a handle to call
   * once when the request ends, however it ends — it frees the slot, or takes the request out of the queue.
   */
  admit(client: string, admitted: () => void, refused: (reason: AdmissionRefusal) => void): () => void {
    const { maxPerClient, capacity, queueTimeoutMs } = this.options;
    if (this.counting) {
      const held = this.perClient.get(client) ?? 0;
      if (held >= maxPerClient) {
        refused('client-cap');
        return noop;
      }
      this.perClient.set(client, held + 1);
    }
    if (this.inFlight < capacity && this.queue.length === 0) {
      this.inFlight++;
      admitted();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.release(client);
      };
    }
    if (queueTimeoutMs === 0) {
      this.forget(client);
      refused('queue-timeout');
      return noop;
    }
    const waiter: Waiter = { client, timer: undefined, admitted, refused, settled: false };
    waiter.timer = setTimeout(() => this.expire(waiter), queueTimeoutMs);
    this.queue.push(waiter);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (waiter.settled) {
        if (waiter.timer === undefined) this.release(client);
        return;
      }
      waiter.settled = true;
      clearTimeout(waiter.timer);
      this.queue.splice(this.queue.indexOf(waiter), 1);
      this.forget(client);
    };
  }

  /** Requests in flight and waiting, for tests and metrics. */
  get load(): { inFlight: number; waiting: number } {
    return { inFlight: this.inFlight, waiting: this.queue.length };
  }

  private expire(waiter: Waiter): void {
    if (waiter.settled) return;
    waiter.settled = true;
    this.queue.splice(this.queue.indexOf(waiter), 1);
    this.forget(waiter.client);
    waiter.refused('queue-timeout');
  }

  private release(client: string): void {
    this.forget(client);
    const next = this.queue.shift();
    if (next === undefined) {
      this.inFlight--;
      return;
    }
    next.settled = true;
    clearTimeout(next.timer);
    next.timer = undefined;
    next.admitted();
  }

  private forget(client: string): void {
    if (!this.counting) return;
    const held = this.perClient.get(client) ?? 1;
    if (held <= 1) this.perClient.delete(client);
    else this.perClient.set(client, held - 1);
  }
}

const noop = (): void => {};
