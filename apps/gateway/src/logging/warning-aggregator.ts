import type { V3Clock } from 'nestjs-v3-token-auth';

/** Options of {@link WarningAggregator}. */
export interface WarningAggregatorOptions {
  /** Length of one window, ms: one line per key per window. @default 60000 */
  windowMs?: number;
  /** Keys tracked at once; warnings of further keys share one overflow window. @default 1000 */
  maxKeys?: number;
  /** Clock of the windows. */
  clock: V3Clock;
  /** Where a line goes (a logger's `warn`). */
  write(line: string): void;
}

interface Window {
  openedAt: number;
  message: string;
  repeats: number;
}

/** The key of the window that warnings of keys beyond `maxKeys` share. */
const OVERFLOW_KEY = '\0overflow';

/**
 * Warnings an attacker can repeat at will (a throttled client, a refused request), written as one line per key per
 * window: the first warning of a window at once, the rest counted and written as one summary line with the count
 * when the window closes (`flush`, which the owner calls about once a window and at shutdown). Memory stays
 * bounded: beyond `maxKeys` keys, warnings share one overflow window until `flush` frees closed ones.
 * @example
 * const warnings = new WarningAggregator({ clock: systemClock, write: (line) => logger.warn(line) });
 * warnings.warn(`throttled:${clientId}`, `Client "${clientId}" throttled`); // written
 * warnings.warn(`throttled:${clientId}`, `Client "${clientId}" throttled`); // counted
 * warnings.flush(); // once the window closed: 'Client "svc" throttled — 1 more time in the last 60 s'
 */
export class WarningAggregator {
  private readonly windows = new Map<string, Window>();
  private readonly windowMs: number;
  private readonly maxKeys: number;

  constructor(private readonly options: WarningAggregatorOptions) {
    this.windowMs = options.windowMs ?? 60_000;
    this.maxKeys = options.maxKeys ?? 1000;
  }

  /** Writes `message` when no window of `key` is open, else counts it in the open one. */
  warn(key: string, message: string): void {
    if (this.admit(key, message)) this.options.write(message);
  }

  /**
   * Whether the caller should write its own line for `key` now (no window was open: one opens), else counts it in
   * the open window; `summary` starts the line that reports the window's repeats when it closes.
   */
  admit(key: string, summary: string): boolean {
    const now = this.options.clock.now();
    let window = this.windows.get(key);
    if (window !== undefined && now - window.openedAt >= this.windowMs) {
      this.close(key, window);
      window = undefined;
    }
    if (window !== undefined) {
      window.repeats++;
      return false;
    }
    if (this.windows.size >= this.maxKeys) {
      this.warnOverflow(now);
      return false;
    }
    this.windows.set(key, { openedAt: now, message: summary, repeats: 0 });
    return true;
  }

  /** Closes every window that is over (all of them with `all`), writing the count of those that saw repeats. */
  flush(all = false): void {
    const now = this.options.clock.now();
    for (const [key, window] of this.windows) {
      if (all || now - window.openedAt >= this.windowMs) this.close(key, window);
    }
  }

  /** Keys with an open window, for tests and metrics. */
  get openWindows(): number {
    return this.windows.size;
  }

  private warnOverflow(now: number): void {
    const window = this.windows.get(OVERFLOW_KEY);
    if (window !== undefined) {
      window.repeats++;
      return;
    }
    const message = `More than ${this.maxKeys} distinct warnings in ${this.windowMs / 1000} s; counting the rest together`;
    this.windows.set(OVERFLOW_KEY, { openedAt: now, message, repeats: 0 });
    this.options.write(message);
  }

  private close(key: string, window: Window): void {
    this.windows.delete(key);
    if (window.repeats === 0) return;
    const times = window.repeats === 1 ? 'time' : 'times';
    const seconds = Math.max(1, Math.round((this.options.clock.now() - window.openedAt) / 1000));
    this.options.write(`${window.message} — ${window.repeats} more ${times} in the last ${seconds} s`);
  }
}
