/** The emulator's notion of time. A shared fake clock (with `advance`) lets one test move Microsoft and the service together. */
export interface EmulatorClock {
  now(): number;
  advance?(ms: number): unknown;
}

/** Wraps a clock so `POST /_emulator/clock` works even when the clock cannot be advanced itself (real time). */
export function createAdvanceableClock(base: EmulatorClock): Required<EmulatorClock> {
  let offsetMs = 0;
  return {
    now: () => base.now() + offsetMs,
    advance: (ms: number) => {
      if (base.advance) base.advance(ms);
      else offsetMs += ms;
    },
  };
}
