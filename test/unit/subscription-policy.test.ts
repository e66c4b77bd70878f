import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CERTIFICATE_ROTATION_LEAD_MS,
  SUBSCRIPTION_LIFETIME_MS,
  certificateNeedsRotation,
  conflictingSubscriptionId,
  expiryCheckAt,
  expiryWarning,
  renewDueAt,
  renewalRetryAt,
  requestedExpiration,
  webhookUrls,
} from "../../src/core/subscription-policy.ts";

const T0 = Date.parse("2026-11-27T09:00:00.000Z");
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe("subscription timing", () => {
  it("asks for 4200 minutes, under Graph's 4320 for Teams chat messages", () => {
    assert.equal(SUBSCRIPTION_LIFETIME_MS, 4200 * MIN);
    assert.equal(requestedExpiration(T0), T0 + 4200 * MIN);
  });

  it("renews when under 24 h are left, never in the past", () => {
    assert.equal(renewDueAt(T0 + 70 * HOUR, T0), T0 + 46 * HOUR);
    assert.equal(renewDueAt(T0 + 10 * HOUR, T0), T0);
  });

  it("retries a failed renewal at an eighth of the time left, between 30 s and 1 h, never before Retry-After", () => {
    assert.equal(renewalRetryAt(T0 + 24 * HOUR, T0), T0 + HOUR);
    assert.equal(renewalRetryAt(T0 + 4 * HOUR, T0), T0 + 30 * MIN);
    assert.equal(renewalRetryAt(T0 + 2 * MIN, T0), T0 + 30_000);
    assert.equal(
      renewalRetryAt(T0 - HOUR, T0),
      T0 + 30_000,
      "already expired: try soon (Graph then says 404)",
    );
    assert.equal(renewalRetryAt(T0 + 4 * HOUR, T0, 2 * HOUR), T0 + 2 * HOUR);
    assert.equal(renewalRetryAt(T0 + 4 * HOUR, T0, 30 * DAY), T0 + DAY, "a bogus Retry-After is capped");
    assert.equal(renewalRetryAt(T0 + 4 * HOUR, T0, null), T0 + 30 * MIN);
  });

  it("checks the expiry at the 6 h and 1 h marks and warns with rising severity", () => {
    assert.equal(expiryCheckAt(T0 + 70 * HOUR, T0), T0 + 64 * HOUR);
    assert.equal(expiryCheckAt(T0 + 6 * HOUR, T0), T0 + 5 * HOUR);
    assert.equal(expiryCheckAt(T0 + HOUR, T0), undefined);
    assert.equal(expiryWarning(T0 + 7 * HOUR, T0), undefined);
    assert.deepEqual(expiryWarning(T0 + 6 * HOUR, T0), { severity: "error", hoursLeft: 6 });
    assert.deepEqual(expiryWarning(T0 + HOUR, T0), { severity: "critical", hoursLeft: 1 });
    assert.deepEqual(expiryWarning(T0 - HOUR, T0), { severity: "critical", hoursLeft: 0 });
  });

  it("rotates the certificate 30 days before it ends", () => {
    assert.equal(CERTIFICATE_ROTATION_LEAD_MS, 30 * DAY);
    assert.equal(certificateNeedsRotation(T0 + 31 * DAY, T0), false);
    assert.equal(certificateNeedsRotation(T0 + 30 * DAY, T0), true);
    assert.equal(certificateNeedsRotation(T0 - DAY, T0), true);
  });
});

describe("webhook URLs and conflicts", () => {
  it("builds both URLs from an origin or a prefix, with or without a trailing slash", () => {
    assert.deepEqual(webhookUrls("https://relay.contoso.com"), {
      notificationUrl: "https://relay.contoso.com/api/graph/notifications",
      lifecycleNotificationUrl: "https://relay.contoso.com/api/graph/lifecycle",
    });
    assert.equal(
      webhookUrls("https://contoso.com/relay/").notificationUrl,
      "https://contoso.com/relay/api/graph/notifications",
    );
  });

  it("reads the existing subscription's id from Graph's 409 message", () => {
    const id = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07";
    assert.equal(
      conflictingSubscriptionId(
        `POST /v1.0/subscriptions: 409 Conflict Subscription Id ${id} already exists for the requested combination`,
      ),
      id,
    );
    assert.equal(conflictingSubscriptionId("409 Conflict"), undefined);
  });
});
