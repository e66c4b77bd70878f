import { randomBytes } from "node:crypto";
import type { AlertMessage } from "../../src/core/alert.ts";
import { buildEmergencyAlert, sampleEmergency } from "../../src/core/build-alert-message.ts";
import type { NewDelivery } from "../../src/core/delivery.ts";
import type { Emergency } from "../../src/core/emergency.ts";
import type { EmergencyRecord } from "../../src/core/emergency-record.ts";

export function uniqueId(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString("hex")}`;
}

/** A detected emergency with its own chat and message ids. */
export function anEmergency(overrides: Partial<Emergency> = {}): Emergency {
  return {
    ...sampleEmergency(false),
    chatId: `19:${randomBytes(6).toString("hex")}@thread.v2`,
    messageId: String(Date.now()) + randomBytes(2).readUInt16BE(0),
    ...overrides,
  };
}

export function anEmergencyRecord(
  orgId: string,
  now: number,
  overrides: Partial<EmergencyRecord> = {},
): EmergencyRecord {
  const emergency = overrides.emergency ?? anEmergency();
  return {
    id: uniqueId("em"),
    orgId,
    chatId: emergency.chatId,
    messageId: emergency.messageId,
    isTest: emergency.isTest,
    dialString: emergency.dialString,
    callerName: emergency.caller.displayName,
    locationQuality: emergency.location.quality,
    ruleId: "default",
    emergency,
    policy: null,
    state: "open",
    escalationStep: 1,
    detectedAt: now,
    acknowledgement: null,
    ...overrides,
  };
}

export function aMessage(id: string, overrides: Partial<AlertMessage> = {}): AlertMessage {
  return {
    ...buildEmergencyAlert({
      id,
      emergencyId: "em_0000000000000000",
      emergency: sampleEmergency(false),
      org: { id: "org_0000000000000000", name: "Contoso" },
      tier: 0,
      repeat: 0,
      ackUrl: "https://relay.example.test/ack/secret-token-value",
      occurredAt: 0,
    }),
    ...overrides,
  };
}

export function aDelivery(
  orgId: string,
  now: number,
  overrides: Partial<NewDelivery> & { channelId?: string } = {},
): NewDelivery {
  const id = overrides.id ?? uniqueId("dl");
  const { channelId, ...rest } = overrides;
  return {
    id,
    dedupeKey: `test:${id}`,
    orgId,
    emergencyId: null,
    eventId: null,
    channel: { id: channelId ?? "ch_test", type: "webhook", name: "Test hook" },
    policyId: null,
    tier: 0,
    step: 0,
    purpose: "initial",
    message: aMessage(id),
    maxAttempts: 10,
    deadlineAt: now + 3_600_000,
    priority: 0,
    nextAttemptAt: now,
    ...rest,
  };
}
