import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DAY_MS,
  HEALTH_REFRESH_INTERVAL_MS,
  RETRY_AFTER_MAX_MS,
  RETRY_FIRST_DELAY_MS,
  RETRY_MAX_DELAY_MS,
  SECRET_WARNING_DAYS,
  nextRefreshAt,
  refreshDueAt,
  retryDelayMs,
  secretExpiryNotice,
} from "../../src/core/token-refresh-policy.ts";

const T0 = Date.parse("2026-11-27T09:00:00.000Z");
const MIN = 60_000;
const low = () => 0;
const high = () => 0.999999;

describe("refresh timing", () => {
  it("refreshes 10 minutes before the access token expires", () => {
    assert.equal(refreshDueAt(T0 + 75 * MIN), T0 + 65 * MIN);
  });

  it("health-refreshes at least every 24 hours", () => {
    assert.equal(HEALTH_REFRESH_INTERVAL_MS, 24 * 3600_000);
    // Token due in 65 min, last refresh long ago: the token decides.
    assert.equal(nextRefreshAt(T0 + 75 * MIN, T0 - DAY_MS + 10 * MIN, T0 - 5 * MIN), T0 + 10 * MIN);
    assert.equal(nextRefreshAt(T0 + 75 * MIN, T0, T0), T0 + 65 * MIN);
    // Without a known expiry, now; never in the past.
    assert.equal(nextRefreshAt(null, T0, T0 + MIN), T0 + MIN);
    assert.equal(nextRefreshAt(T0 - MIN, T0 - 2 * DAY_MS, T0), T0);
  });
});

describe("retryDelayMs", () => {
  it("waits at least 5 s before the first retry, whatever the jitter", () => {
    assert.equal(retryDelayMs(1, undefined, low), RETRY_FIRST_DELAY_MS);
    assert.ok(retryDelayMs(1, undefined, high) >= 5_000);
    for (let i = 0; i < 200; i++) assert.ok(retryDelayMs(1) >= 5_000);
    // Nonsense attempts count as the first.
    assert.equal(retryDelayMs(0, undefined, low), 5_000);
    assert.equal(retryDelayMs(-3, undefined, low), 5_000);
    assert.equal(retryDelayMs(Number.NaN, undefined, low), 5_000);
  });

  it("backs off exponentially", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => retryDelayMs(n, undefined, low)),
      [5_000, 10_000, 20_000, 40_000, 80_000],
    );
  });

  it("caps at 15 minutes, jitter included, and keeps jitter at the cap", () => {
    assert.equal(RETRY_MAX_DELAY_MS, 15 * MIN);
    for (const n of [10, 20, 100, 5000]) {
      assert.ok(retryDelayMs(n, undefined, high) <= RETRY_MAX_DELAY_MS);
      assert.ok(retryDelayMs(n, undefined, low) < retryDelayMs(n, undefined, high));
      assert.ok(retryDelayMs(n, undefined, low) >= 12 * MIN);
    }
  });

  it("bounds jitter to +20 % of the base delay", () => {
    for (let n = 1; n <= 8; n++) {
      const base = retryDelayMs(n, undefined, low);
      for (let i = 0; i < 50; i++) {
        const d = retryDelayMs(n);
        assert.ok(d >= base && d <= Math.ceil(base * 1.2), `attempt ${n}: ${d} vs base ${base}`);
      }
      assert.ok(retryDelayMs(n, undefined, high) > base);
    }
    // A broken random source cannot push the delay out of bounds.
    assert.equal(
      retryDelayMs(1, undefined, () => -5),
      5_000,
    );
    assert.equal(
      retryDelayMs(1, undefined, () => 7),
      6_000,
    );
  });

  it("honours Retry-After: never earlier, even beyond the cap", () => {
    assert.equal(retryDelayMs(1, 30_000, low), 30_000);
    assert.equal(retryDelayMs(1, 30_000, high), 30_000);
    assert.equal(retryDelayMs(1, 1_000, low), 5_000, "a shorter Retry-After does not shorten the minimum");
    assert.equal(retryDelayMs(10, 3600_000, low), 3600_000);
    assert.equal(retryDelayMs(1, 1500.4, low), 5_000);
    assert.equal(retryDelayMs(1, 12_000.2, low), 12_001);
    // A bogus header is bounded; zero, negative or NaN is ignored.
    assert.equal(retryDelayMs(1, 90 * DAY_MS, low), RETRY_AFTER_MAX_MS);
    assert.equal(retryDelayMs(1, 0, low), 5_000);
    assert.equal(retryDelayMs(1, -10, low), 5_000);
    assert.equal(retryDelayMs(1, Number.NaN, low), 5_000);
  });
});

describe("secretExpiryNotice", () => {
  const expiresAt = T0 + 60 * DAY_MS;

  it("warns at 30, 14, 7 and 1 days, then once when expired, each exactly once", () => {
    assert.deepEqual(SECRET_WARNING_DAYS, [30, 14, 7, 1]);
    let warned: number | null = null;
    const notices: { days: number; kind: string; at: number }[] = [];
    // Walk hour by hour from 60 days before expiry to 3 days after it.
    for (let now = T0; now <= expiresAt + 3 * DAY_MS; now += 3600_000) {
      const notice = secretExpiryNotice(expiresAt, warned, now);
      if (notice) {
        notices.push({ ...notice, at: now });
        warned = notice.days;
      }
    }
    assert.deepEqual(
      notices.map((n) => [n.days, n.kind]),
      [
        [30, "expiring"],
        [14, "expiring"],
        [7, "expiring"],
        [1, "expiring"],
        [0, "expired"],
      ],
    );
    assert.equal(notices[0]!.at, expiresAt - 30 * DAY_MS);
    assert.equal(notices[3]!.at, expiresAt - DAY_MS);
    assert.equal(notices[4]!.at, expiresAt);
  });

  it("nothing before 30 days, nothing without an expiry", () => {
    assert.equal(secretExpiryNotice(expiresAt, null, expiresAt - 31 * DAY_MS), undefined);
    assert.equal(secretExpiryNotice(expiresAt, null, expiresAt - 30 * DAY_MS - 1), undefined);
    assert.equal(secretExpiryNotice(null, null, T0), undefined);
  });

  it("announces only the most urgent threshold when several were crossed unseen", () => {
    assert.deepEqual(secretExpiryNotice(expiresAt, null, expiresAt - 5 * DAY_MS), {
      days: 7,
      kind: "expiring",
    });
    assert.deepEqual(secretExpiryNotice(expiresAt, 30, expiresAt - 12 * 3600_000), {
      days: 1,
      kind: "expiring",
    });
    assert.deepEqual(secretExpiryNotice(expiresAt, 30, expiresAt + 1), { days: 0, kind: "expired" });
  });

  it("does not repeat a threshold already warned, nor the expiry", () => {
    assert.equal(secretExpiryNotice(expiresAt, 14, expiresAt - 10 * DAY_MS), undefined);
    assert.equal(secretExpiryNotice(expiresAt, 7, expiresAt - 10 * DAY_MS), undefined);
    assert.equal(secretExpiryNotice(expiresAt, 0, expiresAt + DAY_MS), undefined);
    assert.deepEqual(secretExpiryNotice(expiresAt, 1, expiresAt + DAY_MS), { days: 0, kind: "expired" });
  });
});
