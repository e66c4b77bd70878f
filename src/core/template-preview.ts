import type { AlertMessage } from "./alert.ts";
import type { AlertTemplate, TemplateKind } from "./alert-template.ts";
import { buildEmergencyAlert, buildOperationalAlert, sampleEmergency } from "./build-alert-message.ts";

/** A template rendered with a sample call (every variable filled) or a sample operational event. */
export function previewTemplate(
  kind: TemplateKind,
  template: AlertTemplate,
  org: { id: string; name: string },
  publicUrl: string,
  now: number,
): AlertMessage {
  if (kind === "operational") {
    return buildOperationalAlert({
      id: "dl_preview",
      event: {
        kind: "reauth_required",
        severity: "critical",
        message: "The service user's sign-in was revoked; connect it again.",
        createdAt: now,
      },
      org,
      template,
    });
  }
  return buildEmergencyAlert({
    id: "dl_preview",
    emergencyId: "em_preview",
    emergency: sampleEmergency(kind === "test"),
    org,
    tier: kind === "escalation" ? 1 : 0,
    repeat: 0,
    template,
    ackUrl: `${publicUrl}/ack/EXAMPLE-TOKEN`,
    occurredAt: now,
  });
}
