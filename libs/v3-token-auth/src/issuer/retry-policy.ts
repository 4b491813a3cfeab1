import type { V3RetryOptions } from '../module/v3-token-auth.options.js';

/** `V3RetryOptions` with every default applied. */
export type ResolvedRetryOptions = Required<V3RetryOptions>;

/** Longest `Retry-After` passed on to callers, in seconds. */
export const MAX_RETRY_AFTER_SECONDS = 3600;

export function resolveRetryOptions(options: V3RetryOptions = {}): ResolvedRetryOptions {
  const attempts = Math.max(1, Math.floor(options.attempts ?? 3));
  const baseDelayMs = Math.max(0, options.baseDelayMs ?? 100);
  const maxDelayMs = Math.max(0, options.maxDelayMs ?? 2000);
  return { attempts, baseDelayMs, maxDelayMs };
}

/**
 * "Full jitter" exponential backoff: a random delay in `[0, min(maxDelayMs, baseDelayMs * 2^(attempt-1)))`.
 * @param attempt the attempt that just failed, from 1.
 */
export function backoffDelayMs(
  attempt: number,
  options: ResolvedRetryOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Seconds to wait according to a `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
 * Returns undefined when the header is absent or unreadable; never negative, at most `MAX_RETRY_AFTER_SECONDS`.
 * @example parseRetryAfter('120') // 120
 */
export function parseRetryAfter(header: string | undefined, now: number = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  let seconds: number;
  if (/^\d+$/.test(value)) {
    seconds = Number(value);
  } else {
    const date = Date.parse(value);
    if (Number.isNaN(date) || !/[a-z]/i.test(value)) return undefined;
    seconds = Math.ceil((date - now) / 1000);
  }
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, seconds));
}
