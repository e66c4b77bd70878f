import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EMERGENCY_RETRY, decideAfterAttempt, retryLimitsFor } from "../../src/core/outbox-retry-policy.ts";

const now = 1_000_000;
const base = { maxAttempts: 10, deadlineAt: now + 3_600_000, now, random: 0.5, limits: EMERGENCY_RETRY };
const retry = (retryAfterMs: number | null = null) => ({
  outcome: "retry" as const,
  status: 503,
  retryAfterMs,
  detail: "HTTP 503",
});

describe("decideAfterAttempt", () => {
  it("delivered, failed and gone end the delivery; gone disables the channel", () => {
    assert.deepEqual(
      decideAfterAttempt({ ...base, attempts: 1, result: { outcome: "delivered", status: 200 } }),
      {
        status: "delivered",
      },
    );
    const failed = decideAfterAttempt({
      ...base,
      attempts: 1,
      result: { outcome: "failed", status: 302, detail: "HTTP 302" },
    });
    assert.equal(failed.status === "dead" && failed.disableChannel, false);
    const gone = decideAfterAttempt({
      ...base,
      attempts: 1,
      result: { outcome: "gone", status: 410, detail: "HTTP 410" },
    });
    assert.equal(gone.status === "dead" && gone.disableChannel, true);
  });

  it("backs off exponentially with jitter, within ±25 %", () => {
    const at = (attempts: number, random: number) => {
      const d = decideAfterAttempt({ ...base, attempts, random, result: retry() });
      assert.equal(d.status, "retry");
      return d.status === "retry" ? d.at - now : 0;
    };
    assert.equal(at(1, 0.5), 5_000);
    assert.equal(at(2, 0.5), 10_000);
    assert.equal(at(4, 0.5), 40_000);
    assert.equal(at(1, 0), 3_750);
    assert.equal(at(1, 0.999999), 6_250);
    assert.equal(at(9, 0.5), 15 * 60_000, "capped");
  });

  it("about 10 attempts fit in the hour with the default schedule", () => {
    let t = now;
    let attempts = 0;
    for (;;) {
      attempts += 1;
      const d = decideAfterAttempt({ ...base, now: t, attempts, result: retry() });
      if (d.status !== "retry") break;
      t = d.at;
    }
    assert.equal(attempts, 10);
    assert.ok(t - now < 3_600_000);
  });

  it("honours Retry-After beyond the backoff; gives up when it ends after the window", () => {
    const d = decideAfterAttempt({ ...base, attempts: 1, result: retry(120_000) });
    assert.deepEqual(d, { status: "retry", at: now + 120_000 });
    const tooLate = decideAfterAttempt({
      ...base,
      attempts: 1,
      deadlineAt: now + 60_000,
      result: retry(120_000),
    });
    assert.equal(tooLate.status, "dead");
  });

  it("a backoff past the window becomes one last try at its end", () => {
    const d = decideAfterAttempt({ ...base, attempts: 8, deadlineAt: now + 1_000, result: retry() });
    assert.deepEqual(d, { status: "retry", at: now + 1_000 });
    assert.equal(
      decideAfterAttempt({ ...base, attempts: 8, deadlineAt: now, result: retry() }).status,
      "dead",
    );
  });

  it("stops at the attempt limit; a policy can set its own", () => {
    assert.equal(decideAfterAttempt({ ...base, attempts: 10, result: retry() }).status, "dead");
    assert.deepEqual(retryLimitsFor({ maxAttempts: 3, windowSeconds: 600 }, EMERGENCY_RETRY), {
      ...EMERGENCY_RETRY,
      maxAttempts: 3,
      windowMs: 600_000,
    });
    assert.equal(retryLimitsFor(null, EMERGENCY_RETRY), EMERGENCY_RETRY);
  });
});
