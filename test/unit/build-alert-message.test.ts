import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  UNKNOWN_LOCATION,
  buildEmergencyAlert,
  buildOperationalAlert,
  formatAlertTime,
  locationText,
  sampleEmergency,
} from "../../src/core/build-alert-message.ts";
import type { Emergency } from "../../src/core/emergency.ts";

const org = { id: "org_1", name: "Contoso" };
const at = Date.parse("2026-11-27T09:00:00Z");

function alert(emergency: Emergency, tier = 0, repeat = 0) {
  return buildEmergencyAlert({
    id: "dl_1",
    emergencyId: "em_1",
    emergency,
    org,
    tier,
    repeat,
    ackUrl: "https://relay.example.com/ack/abc",
    occurredAt: at,
  });
}

describe("buildEmergencyAlert", () => {
  it("a real call: critical, everything the desk needs in title, text and fields", () => {
    const message = alert(sampleEmergency(false));
    assert.equal(message.id, "dl_1");
    assert.equal(message.kind, "emergency");
    assert.equal(message.severity, "critical");
    assert.equal(
      message.title,
      "EMERGENCY CALL 911: Pat Jones at Building 4, Floor 2, 1 Microsoft Way, Redmond, WA 98052",
    );
    assert.match(message.text, /Pat Jones dialed 911 from Microsoft Teams at 2026-11-27 09:00:00 UTC\./);
    assert.match(
      message.text,
      /Acknowledge \(tell the others you are on it\): https:\/\/relay\.example\.com\/ack\/abc/,
    );
    assert.match(
      message.text,
      /Map: https:\/\/www\.google\.com\/maps\/search\/\?api=1&query=47\.6396,-122\.1283/,
    );
    assert.deepEqual(
      message.fields.map((f) => f.label),
      ["Caller", "Dialed", "Location", "Location quality", "Time"],
    );
    assert.equal(message.acknowledgeUrl, "https://relay.example.com/ack/abc");
    assert.equal(message.emergencyId, "em_1");
  });

  it("an unknown location reads loudly everywhere, and no map link is made up", () => {
    const emergency = sampleEmergency(false);
    emergency.location = {
      raw: null,
      place: null,
      civicAddress: null,
      coordinates: null,
      quality: "unknown",
    };
    const message = alert(emergency);
    assert.match(message.title, /LOCATION UNKNOWN/);
    assert.match(message.text, /Location: LOCATION UNKNOWN/);
    assert.match(message.text, /Location quality: UNKNOWN/);
    assert.doesNotMatch(message.text, /Map:/);
    assert.equal(message.mapUrl, null);
    assert.equal(locationText(emergency.location), UNKNOWN_LOCATION);
  });

  it("a user-entered location is marked not verified", () => {
    const emergency = sampleEmergency(false);
    emergency.location = {
      raw: "12 Elm St",
      place: null,
      civicAddress: "12 Elm St",
      coordinates: null,
      quality: "user_entered",
    };
    assert.match(alert(emergency).title, /12 Elm St \(entered by the caller, NOT VERIFIED\)/);
  });

  it("a test call says so; escalations and repeats say how far it went", () => {
    const test = alert(sampleEmergency(true));
    assert.equal(test.kind, "test");
    assert.equal(test.severity, "info");
    assert.equal(test.isTestCall, true);
    assert.match(test.title, /^TEST CALL 933 \(not an emergency\)/);
    assert.equal(test.fields[0]?.value, "TEST CALL (not an emergency)");
    const escalation = alert(sampleEmergency(false), 2);
    assert.equal(escalation.kind, "escalation");
    assert.match(escalation.title, /^NOT ACKNOWLEDGED \(escalation tier 2\): EMERGENCY CALL 911/);
    assert.equal(escalation.fields.at(-1)?.value, "2");
    assert.match(alert(sampleEmergency(false), 1, 2).title, /^REMINDER 2: NOT ACKNOWLEDGED/);
  });

  it("a caller name full of markup is carried as text (channels escape for their format)", () => {
    const emergency = sampleEmergency(false);
    emergency.caller = { id: null, displayName: "<b>{{ackUrl}}</b>", userPrincipalName: null };
    assert.match(alert(emergency).title, /^EMERGENCY CALL 911: <b>\{\{ackUrl\}\}<\/b> at/);
  });
});

describe("buildOperationalAlert", () => {
  it("renders the operational template with the event", () => {
    const message = buildOperationalAlert({
      id: "dl_2",
      event: {
        kind: "reauth_required",
        severity: "error",
        message: "Connect the service user again.",
        createdAt: at,
      },
      org,
    });
    assert.equal(message.kind, "operational");
    assert.equal(message.severity, "critical");
    assert.equal(message.title, "Teams Emergency Relay [ERROR] Contoso: reauth_required");
    assert.match(message.text, /^Connect the service user again\./);
    assert.equal(message.acknowledgeUrl, null);
    assert.equal(formatAlertTime(at), "2026-11-27 09:00:00 UTC");
  });
});
