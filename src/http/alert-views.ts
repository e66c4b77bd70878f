// How the admin API shows alerting records: ISO times, latencies computed, and nothing secret (channel settings
// go through the channel's own `describe`; messages, which carry acknowledgement tokens, are never shown).
import type { AlertChannel } from "../core/alert-channel.ts";
import type { AlertPolicy } from "../core/alert-policy.ts";
import { locationText } from "../core/build-alert-message.ts";
import type { Delivery, DeliveryAttempt } from "../core/delivery.ts";
import type { EmergencyRecord, TimelineEvent } from "../core/emergency-record.ts";

export function emergencySummaryView(record: EmergencyRecord) {
  const { emergency } = record;
  return {
    id: record.id,
    orgId: record.orgId,
    state: record.state,
    isTest: record.isTest,
    dialString: record.dialString,
    caller: emergency.caller,
    location: {
      text: locationText(emergency.location),
      quality: emergency.location.quality,
      place: emergency.location.place,
      civicAddress: emergency.location.civicAddress,
      coordinates: emergency.location.coordinates,
      raw: emergency.location.raw,
    },
    detectedAt: iso(record.detectedAt),
    messageTime: emergency.messageTime === null ? null : iso(emergency.messageTime),
    teamsUrl: emergency.webUrl,
    ruleId: record.ruleId,
    policy: record.policy === null ? null : { id: record.policy.id, name: record.policy.name },
    escalationStep: record.escalationStep,
    acknowledgement:
      record.acknowledgement === null
        ? null
        : {
            at: iso(record.acknowledgement.at),
            by: record.acknowledgement.by,
            via: record.acknowledgement.via,
            channelId: record.acknowledgement.channelId,
            afterSeconds: Math.round((record.acknowledgement.at - record.detectedAt) / 1000),
          },
  };
}

export function emergencyDetailView(
  record: EmergencyRecord,
  timeline: readonly TimelineEvent[],
  deliveries: readonly Delivery[],
  attempts: readonly DeliveryAttempt[],
) {
  return {
    ...emergencySummaryView(record),
    chatId: record.chatId,
    messageId: record.messageId,
    message: { text: record.emergency.text, html: record.emergency.html },
    policyTiers: record.policy?.tiers ?? [],
    timeline: timeline.map((e) => ({ at: iso(e.at), kind: e.kind, message: e.message, details: e.details })),
    deliveries: deliveries.map((d) =>
      deliveryView(
        d,
        attempts.filter((a) => a.deliveryId === d.id),
      ),
    ),
  };
}

export function deliveryView(d: Delivery, attempts?: readonly DeliveryAttempt[]) {
  return {
    id: d.id,
    orgId: d.orgId,
    emergencyId: d.emergencyId,
    eventId: d.eventId,
    channel: { id: d.channelId, name: d.channelName, type: d.channelType },
    policyId: d.policyId,
    tier: d.tier,
    purpose: d.purpose,
    status: d.status,
    attempts: d.attempts,
    maxAttempts: d.maxAttempts,
    createdAt: iso(d.createdAt),
    nextAttemptAt: d.status === "pending" ? iso(d.nextAttemptAt) : null,
    deadlineAt: iso(d.deadlineAt),
    firstAttemptAt: d.firstAttemptAt === null ? null : iso(d.firstAttemptAt),
    deliveredAt: d.deliveredAt === null ? null : iso(d.deliveredAt),
    deadAt: d.deadAt === null ? null : iso(d.deadAt),
    /** From the row being stored (the emergency, for first-tier rows) to the first channel request. */
    firstAttemptLatencyMs: d.firstAttemptAt === null ? null : d.firstAttemptAt - d.createdAt,
    deliveredLatencyMs: d.deliveredAt === null ? null : d.deliveredAt - d.createdAt,
    last: { outcome: d.lastOutcome, statusCode: d.lastStatusCode, detail: d.lastDetail },
    ...(attempts
      ? {
          attemptLog: attempts.map((a) => ({
            attempt: a.attempt,
            startedAt: iso(a.startedAt),
            latencyMs: a.latencyMs,
            outcome: a.outcome,
            statusCode: a.statusCode,
            detail: a.detail,
          })),
        }
      : {}),
  };
}

/** `described`: the channel type's own safe view of its settings (`describe`). */
export function channelView(channel: AlertChannel, described: Record<string, unknown>) {
  return {
    id: channel.id,
    orgId: channel.orgId,
    type: channel.type,
    name: channel.name,
    enabled: channel.enabled,
    disabledReason: channel.disabledReason,
    settings: described,
    createdAt: iso(channel.createdAt),
    updatedAt: iso(channel.updatedAt),
  };
}

export function policyView(policy: AlertPolicy) {
  return {
    id: policy.id,
    orgId: policy.orgId,
    name: policy.name,
    kind: policy.kind,
    callType: policy.callType,
    locationMatch: policy.locationMatch,
    priority: policy.priority,
    enabled: policy.enabled,
    tiers: policy.tiers,
    retry: policy.retry,
    createdAt: iso(policy.createdAt),
    updatedAt: iso(policy.updatedAt),
  };
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
