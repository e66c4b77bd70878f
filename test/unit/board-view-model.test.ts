import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { boardCard } from "../../src/core/board-view-model.ts";
import type { Delivery } from "../../src/core/delivery.ts";
import type { TimelineEvent } from "../../src/core/emergency-record.ts";
import { alarmText } from "../../src/web/views/board-view.ts";
import { anEmergency, anEmergencyRecord } from "../helpers/alert-fixtures.ts";

const T0 = Date.parse("2026-11-27T09:00:00Z");

function delivery(overrides: Partial<Delivery>): Delivery {
  return {
    id: "dl_1",
    orgId: "org_1",
    emergencyId: "em_1",
    eventId: null,
    channelId: "ch_desk",
    channelType: "webhook",
    channelName: "Desk",
    policyId: "po_1",
    tier: 0,
    step: 0,
    purpose: "initial",
    status: "delivered",
    attempts: 1,
    maxAttempts: 10,
    deadlineAt: T0 + 3_600_000,
    nextAttemptAt: T0,
    lockedBy: null,
    lockedUntil: null,
    createdAt: T0,
    firstAttemptAt: T0,
    lastAttemptAt: T0,
    deliveredAt: T0,
    deadAt: null,
    lastOutcome: "delivered",
    lastStatusCode: 200,
    lastDetail: "HTTP 200 OK",
    ...overrides,
  };
}

const policy = {
  id: "po_1",
  name: "Desk",
  retry: null,
  tiers: [
    { afterSeconds: 0, channelIds: ["ch_desk"], repeat: null },
    { afterSeconds: 120, channelIds: ["ch_lead"], repeat: null },
    { afterSeconds: 600, channelIds: ["ch_director"], repeat: null },
  ],
};

describe("board card", () => {
  it("shows the tier reached, when the next one is due, and each channel's latest delivery", () => {
    const record = anEmergencyRecord("org_1", T0, { id: "em_1", policy });
    const card = boardCard({
      record,
      orgName: "Contoso",
      deliveries: [
        delivery({ id: "dl_1" }),
        delivery({ id: "dl_2", createdAt: T0 + 60_000, purpose: "repeat", status: "pending", attempts: 0 }),
        delivery({
          id: "dl_3",
          channelId: "ch_lead",
          channelName: "Lead",
          tier: 1,
          purpose: "escalation",
          createdAt: T0 + 120_000,
          status: "dead",
          lastDetail: "HTTP 404 Not Found",
        }),
        delivery({ id: "dl_other", emergencyId: "em_other", tier: 2 }),
      ],
      timeline: [],
    });
    assert.equal(card.tier, 1);
    assert.equal(card.tierCount, 3);
    assert.equal(card.nextTierAt, T0 + 600_000);
    assert.deepEqual(
      card.channels.map((c) => [c.name, c.tier, c.status, c.detail]),
      [
        ["Desk", 0, "pending", "HTTP 200 OK"],
        ["Lead", 1, "dead", "HTTP 404 Not Found"],
      ],
    );
  });

  it("has no next tier once acknowledged, and cancelled escalations do not count as reached", () => {
    const record = anEmergencyRecord("org_1", T0, {
      id: "em_1",
      policy,
      state: "acknowledged",
      acknowledgement: { at: T0 + 30_000, by: "Rita", via: "web", channelId: null },
    });
    const card = boardCard({
      record,
      orgName: "Contoso",
      deliveries: [delivery({ id: "dl_1" }), delivery({ id: "dl_2", tier: 1, status: "cancelled" })],
      timeline: [],
    });
    assert.equal(card.tier, 0);
    assert.equal(card.nextTierAt, null);
  });

  it("reads an unknown location loudly, links only https, keeps the newest notes first, takes the call time from the message", () => {
    const record = anEmergencyRecord("org_1", T0, {
      id: "em_1",
      emergency: anEmergency({
        messageTime: T0 - 2000,
        webUrl: "javascript:alert(1)",
        location: { raw: null, place: null, civicAddress: null, coordinates: null, quality: "unknown" },
      }),
    });
    const note = (n: number, by: string | null): TimelineEvent => ({
      id: `ev_${n}`,
      emergencyId: "em_1",
      at: T0 + n * 1000,
      kind: "note",
      message: `note ${n}`,
      details: by ? { by } : null,
    });
    const card = boardCard({
      record,
      orgName: "Contoso",
      deliveries: [],
      timeline: [note(1, "A"), note(2, null), note(3, "C"), note(4, "D")],
    });
    assert.match(card.location, /^LOCATION UNKNOWN/);
    assert.equal(card.mapUrl, null);
    assert.equal(card.teamsUrl, null, "only https links");
    assert.equal(card.calledAt, T0 - 2000);
    assert.deepEqual(
      card.notes.map((n) => [n.text, n.by]),
      [
        ["note 4", "D"],
        ["note 3", "C"],
        ["note 2", null],
      ],
    );
    assert.equal(card.noteCount, 4);
  });

  it("words the alarm by what is open: real calls first, then tests", () => {
    assert.deepEqual(alarmText([{ isTest: false }, { isTest: true }]), {
      text: "1 EMERGENCY NOT ACKNOWLEDGED",
      level: "real",
    });
    assert.deepEqual(
      alarmText([{ isTest: false }, { isTest: false }]).text,
      "2 EMERGENCIES NOT ACKNOWLEDGED",
    );
    assert.deepEqual(alarmText([{ isTest: true }]), { text: "1 test call not acknowledged", level: "test" });
    assert.deepEqual(alarmText([]).level, "none");
  });
});
