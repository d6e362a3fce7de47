/** Time as a port, so tests can drive backoff, SLAs and freshness without sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
