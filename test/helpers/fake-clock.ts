import type { Clock } from "../../src/core/clock.ts";

/** A clock that only moves when a test moves it. Shared by the emulator and the service in e2e tests. */
export class FakeClock implements Clock {
  #now: number;
  constructor(start: number | string = "2026-11-27T09:00:00.000Z") {
    this.#now = typeof start === "number" ? start : Date.parse(start);
  }
  now(): number {
    return this.#now;
  }
  advance(ms: number): number {
    this.#now += ms;
    return this.#now;
  }
  set(epochMs: number): void {
    this.#now = epochMs;
  }
}
