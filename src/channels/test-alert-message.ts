import { randomUUID } from "node:crypto";
import type { AlertMessage } from "../core/alert.ts";

/**
 * The alert a channel's "send test" action sends: clearly a test, no emergency, no links to act on. Each call
 * gets a new id, so a receiver that dedupes on `webhook-id` shows every test.
 */
export function testAlertMessage(
  now: number,
  org: { id: string; name: string } | null,
  id: string = `test_${randomUUID()}`,
): AlertMessage {
  const sentAt = new Date(now).toISOString();
  return {
    id,
    kind: "test",
    severity: "info",
    orgId: org?.id ?? null,
    orgName: org?.name ?? null,
    emergencyId: null,
    title: "Test alert from Teams Emergency Relay",
    text:
      `This is a test of this alert channel${org ? ` for ${org.name}` : ""}. ` +
      "No emergency is in progress and nothing needs to be done.",
    fields: [
      ...(org ? [{ label: "Organization", value: org.name }] : []),
      { label: "Sent at", value: sentAt },
    ],
    acknowledgeUrl: null,
    mapUrl: null,
    teamsUrl: null,
    occurredAt: now,
    isTestCall: false,
    emergency: null,
  };
}
