// An emergency as the relay keeps it: the detected call, where it was routed, how far escalation got, and who
// acknowledged it. The timeline is its record (detected, each delivery attempt, escalations, acknowledgement).
import type { PolicySnapshot } from "./alert-policy.ts";
import type { Emergency, LocationQuality } from "./emergency.ts";

/**
 * - `open`: alerts went out (or are going out) and nobody acknowledged yet.
 * - `acknowledged`: someone acknowledged (by link, API or web app); escalation and repeats stopped.
 * - `unrouted`: no policy matched, so nobody was notified (a test call without a test policy, or a real call
 *   without any policy, which also raises a critical operational event).
 */
export type EmergencyState = "open" | "acknowledged" | "unrouted";
export const EMERGENCY_STATES: readonly EmergencyState[] = ["open", "acknowledged", "unrouted"];

/** `web`: a signed-in responder on the board or the emergency page. */
export type AcknowledgedVia = "link" | "api" | "web";

export interface Acknowledgement {
  at: number;
  /** The responder's name as they gave it, or null when they gave none. */
  by: string | null;
  via: AcknowledgedVia;
  /** The channel whose link was used (`via: "link"`), when the token was per channel. */
  channelId: string | null;
}

export interface EmergencyRecord {
  /** `em_` + 16 hex characters. */
  id: string;
  orgId: string;
  chatId: string;
  messageId: string;
  isTest: boolean;
  dialString: string | null;
  callerName: string | null;
  locationQuality: LocationQuality;
  /** Which detection rule matched. */
  ruleId: string;
  emergency: Emergency;
  /** The policy as it was when the call came in; null when none matched. */
  policy: PolicySnapshot | null;
  state: EmergencyState;
  /** Escalation steps already carried out (core/escalation-schedule.ts); the first tier is step 0. */
  escalationStep: number;
  detectedAt: number;
  acknowledgement: Acknowledgement | null;
}

export type TimelineKind =
  | "detected"
  | "routed"
  | "unrouted"
  | "attempt"
  | "delivered"
  | "dead"
  | "channel_disabled"
  | "escalated"
  | "repeated"
  | "acknowledged"
  | "cancelled"
  | "replayed"
  | "note";

export interface TimelineEvent {
  id: string;
  emergencyId: string;
  at: number;
  kind: TimelineKind;
  /** One line for people; never secrets. */
  message: string;
  details: Record<string, unknown> | null;
}

export type NewTimelineEvent = Omit<TimelineEvent, "id">;

export interface EmergencyFilter {
  orgId?: string;
  /** Detected at or after (epoch ms). */
  since?: number;
  /** Detected before (epoch ms). */
  until?: number;
  state?: EmergencyState;
  /** Test calls only (true) or real calls only (false). */
  isTest?: boolean;
  /** Keyset paging, newest first: only emergencies listed after this one (detected earlier, or same time and smaller id). */
  before?: { detectedAt: number; id: string };
  limit: number;
}
