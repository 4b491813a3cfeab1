/** How often a stalled connection is probed with a `PING`, ms. */
const PROBE_EVERY_MS = 1000;

/** Whether `error` is ioredis' `commandTimeout` firing: Redis took the command and did not answer it. */
function isCommandTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Command timed out';
}

/**
 * Whether a Redis connection that is still open has stopped answering (a hung or stopped server, a network that
 * drops packets): set by the first command that times out, cleared once a probing `PING` answers. While it is set
 * the store answers at once as if Redis were down, so a cache miss costs one command timeout, not one per command
 * it would send (about twelve).
 * @example
 * const stall = new RedisStall(() => store.ping(500));
 * client.get(key).catch((error) => stall.noticed(error));
 * if (stall.active) return undefined; // a fast miss
 */
export class RedisStall {
  private stalled = false;
  private probe: NodeJS.Timeout | undefined;

  constructor(
    private readonly ping: () => Promise<boolean>,
    private readonly probeEveryMs = PROBE_EVERY_MS,
  ) {}

  /** Whether commands should not be sent now. */
  get active(): boolean {
    return this.stalled;
  }

  /** Called with the error of every failed command: a timeout marks the connection stalled and starts probing it. */
  noticed(error: unknown): void {
    if (this.stalled || !isCommandTimeout(error)) return;
    this.stalled = true;
    this.scheduleProbe();
  }

  /** Stops probing (the store is closing). */
  close(): void {
    clearTimeout(this.probe);
    this.probe = undefined;
    this.stalled = false;
  }

  private scheduleProbe(): void {
    this.probe = setTimeout(() => {
      void this.ping().then((answered) => {
        if (this.probe === undefined) return;
        if (answered) {
          this.stalled = false;
          this.probe = undefined;
        } else this.scheduleProbe();
      });
    }, this.probeEveryMs);
    this.probe.unref();
  }
}
