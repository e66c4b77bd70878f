import type { AlertKind, AlertMessage } from "../core/alert.ts";

const EVENT_TYPES: Readonly<Record<AlertKind, string>> = {
  emergency: "emergency.detected",
  escalation: "emergency.escalated",
  operational: "operational.event",
  test: "test",
};

export interface WebhookPayload {
  type: string;
  /** When what the alert is about happened (ISO 8601). */
  timestamp: string;
  data: AlertMessage;
}

/**
 * The generic webhook's JSON body, in the envelope Standard Webhooks recommends (spec/standard-webhooks.md,
 * "Payload structure": `type`, `timestamp`, `data`). `data` is the whole alert, the detected emergency included,
 * so receivers can act on structured fields rather than on rendered text.
 */
export function webhookPayload(message: AlertMessage): WebhookPayload {
  return {
    type: EVENT_TYPES[message.kind],
    timestamp: new Date(message.occurredAt).toISOString(),
    data: message,
  };
}
