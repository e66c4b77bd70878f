// One alert to one channel: a row of the outbox. Delivered at least once (leases, retries), so every message
// carries its delivery id as a stable `AlertMessage.id` that receivers dedupe on.
import type { AlertMessage, ChannelSendResult, ChannelType } from "./alert.ts";

/**
 * - `pending`: waiting for its (next) attempt, or in flight (`lockedBy`/`lockedUntil` set).
 * - `delivered`: the channel accepted it.
 * - `dead`: given up (channel refused, retries exhausted, channel disabled or deleted); replayable.
 * - `cancelled`: an escalation or repeat that an acknowledgement made unnecessary.
 */
export type DeliveryStatus = "pending" | "delivered" | "dead" | "cancelled";
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["pending", "delivered", "dead", "cancelled"];

/** Why the row exists; acknowledgement cancels pending `escalation` and `repeat` rows only. */
export type DeliveryPurpose = "initial" | "escalation" | "repeat" | "operational";

export interface Delivery {
  /** `dl_` + 16 hex characters; also the `AlertMessage.id` receivers dedupe on. */
  id: string;
  orgId: string;
  emergencyId: string | null;
  /** The operational event an operations alert is about. */
  eventId: string | null;
  channelId: string;
  channelType: ChannelType;
  /** The channel's name when the row was created (the record stays readable after the channel is renamed). */
  channelName: string;
  policyId: string | null;
  tier: number;
  /** Escalation step (core/escalation-schedule.ts) that created the row; 0 for the first tier and operations. */
  step: number;
  purpose: DeliveryPurpose;
  status: DeliveryStatus;
  attempts: number;
  maxAttempts: number;
  /** No attempt starts after this (epoch ms): the retry window. */
  deadlineAt: number;
  nextAttemptAt: number;
  lockedBy: string | null;
  lockedUntil: number | null;
  createdAt: number;
  firstAttemptAt: number | null;
  lastAttemptAt: number | null;
  deliveredAt: number | null;
  deadAt: number | null;
  lastOutcome: ChannelSendResult["outcome"] | null;
  lastStatusCode: number | null;
  /** From the channel; never contains secrets. */
  lastDetail: string | null;
}

export interface NewDelivery {
  id: string;
  /** One row per (emergency, step, channel) or (event, channel): a re-run of the same step adds nothing. */
  dedupeKey: string;
  orgId: string;
  emergencyId: string | null;
  eventId: string | null;
  channel: { id: string; type: ChannelType; name: string };
  policyId: string | null;
  tier: number;
  step: number;
  purpose: DeliveryPurpose;
  /** Sealed at rest: it carries the acknowledgement link's token and the caller's details. */
  message: AlertMessage;
  maxAttempts: number;
  deadlineAt: number;
  /** Emergencies first when the outbox is busy: 0 for emergencies, 1 for operations. */
  priority: number;
  nextAttemptAt: number;
}

/** A row this worker holds a lease on, with its message opened. */
export interface ClaimedDelivery {
  id: string;
  orgId: string;
  emergencyId: string | null;
  channelId: string;
  channelName: string;
  purpose: DeliveryPurpose;
  tier: number;
  /** Attempts so far, the one about to start included. */
  attempts: number;
  maxAttempts: number;
  deadlineAt: number;
  createdAt: number;
  firstAttemptAt: number | null;
  message: AlertMessage;
}

export interface DeliveryAttempt {
  deliveryId: string;
  attempt: number;
  startedAt: number;
  latencyMs: number;
  outcome: ChannelSendResult["outcome"];
  statusCode: number | null;
  detail: string | null;
}
