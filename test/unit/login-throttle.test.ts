import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  USERNAME_THROTTLE,
  afterFailure,
  isForgotten,
  lockRemaining,
  type ThrottleState,
} from "../../src/core/login-throttle.ts";

const MINUTE = 60_000;
const T0 = Date.parse("2026-11-27T09:00:00Z");

function fail(times: number, start = T0, step = 1000): ThrottleState | undefined {
  let state: ThrottleState | undefined;
  for (let i = 0; i < times; i++) state = afterFailure(state, start + i * step, USERNAME_THROTTLE);
  return state;
}

describe("login throttle", () => {
  it("locks for a minute at the fifth failure", () => {
    const four = fail(4)!;
    assert.equal(lockRemaining(four, T0 + 3000), 0);
    const five = fail(5)!;
    assert.equal(five.failures, 5);
    assert.equal(lockRemaining(five, T0 + 4000), MINUTE);
    assert.equal(lockRemaining(five, T0 + 4000 + MINUTE), 0);
  });

  it("doubles the lock with each further failure, up to an hour", () => {
    const locks = [5, 6, 7, 8, 20].map((n) => {
      const state = fail(n)!;
      return state.lockedUntil - state.lastFailureAt;
    });
    assert.deepEqual(locks, [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE, 60 * MINUTE]);
  });

  it("forgets failures after a quiet window, but never during a lock", () => {
    const three = fail(3)!;
    const later = T0 + 16 * MINUTE;
    assert.equal(isForgotten(three, later, USERNAME_THROTTLE), true);
    assert.equal(afterFailure(three, later, USERNAME_THROTTLE).failures, 1);
    const locked = fail(12)!;
    // Still locked 16 minutes after the last failure (the twelfth failure locks for 128 -> 60 minutes).
    assert.equal(isForgotten(locked, locked.lastFailureAt + 16 * MINUTE, USERNAME_THROTTLE), false);
    assert.equal(afterFailure(locked, locked.lastFailureAt + 16 * MINUTE, USERNAME_THROTTLE).failures, 13);
  });

  it("reports no lock for an unknown key", () => {
    assert.equal(lockRemaining(undefined, T0), 0);
  });
});
