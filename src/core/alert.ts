// An alert as channels send it: already rendered from a template, so a channel only chooses its format
// (JSON, e-mail parts, Adaptive Card, Block Kit, Markdown, SMS text). Built by the alerting flows.
import type { Emergency } from "./emergency.ts";

export type ChannelType = "webhook" | "email" | "teams" | "slack" | "webex" | "sms";

export const CHANNEL_TYPES: readonly ChannelType[] = ["webhook", "email", "teams", "slack", "webex", "sms"];

export type AlertKind = "emergency" | "escalation" | "operational" | "test";

export interface AlertField {
  label: string;
  value: string;
}

export interface AlertMessage {
  /** Stable across retries of one delivery: receivers dedupe on it (Standard Webhooks `webhook-id`). */
  id: string;
  kind: AlertKind;
  severity: "critical" | "warning" | "info";
  orgId: string | null;
  orgName: string | null;
  /** The emergency's id in the relay, when the alert is about one. */
  emergencyId: string | null;
  /** Rendered subject line (template). */
  title: string;
  /** Rendered plain-text body (template); SMS sends this, truncated by the channel. */
  text: string;
  /** Label/value pairs shown as a table or facts (caller, dial string, location, quality, time). */
  fields: AlertField[];
  /** Confirm page for acknowledging (GET shows a page, POST acknowledges). */
  acknowledgeUrl: string | null;
  /** A link to a map of the coordinates or address, when there is one. */
  mapUrl: string | null;
  /** A link into Teams (the chat), when there is one. */
  teamsUrl: string | null;
  /** Epoch ms of what the alert is about (the call, the operational event). */
  occurredAt: number;
  isTestCall: boolean;
  /** The detected emergency (webhook channels send it as structured JSON). */
  emergency: Emergency | null;
}

/**
 * What one send attempt came to. The outbox decides from it: `retry` backs off (honouring `retryAfterMs`),
 * `failed` stops this delivery (dead letter, replayable), `gone` (HTTP 410) stops it and disables the channel.
 * `detail` is for the delivery record and must never contain secrets (tokens, passwords, signing keys).
 */
export type ChannelSendResult =
  | { outcome: "delivered"; status: number | null; detail?: string }
  | { outcome: "retry"; status: number | null; retryAfterMs: number | null; detail: string }
  | { outcome: "failed"; status: number | null; detail: string }
  | { outcome: "gone"; status: number; detail: string };
