/**
 * Source of the current time, epoch milliseconds. The module reads every expiry, refresh point and throttle window
 * from it, so specs can move time forward instead of sleeping.
 * @example V3TokenAuthModule.forRoot({ tokenUrl, clock: { now: () => fakeNow } })
 */
export interface V3Clock {
  /** Epoch milliseconds now. */
  now(): number;
}

/** The wall clock (`Date.now`). */
export const systemClock: V3Clock = { now: () => Date.now() };
