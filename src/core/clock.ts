/** Time source. Production reads the system clock; tests move a fake one. Everything in `core/` takes `now` instead. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
