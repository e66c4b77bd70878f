// The outbox rows for one escalation step of an emergency: one per channel, each with its own acknowledgement
// link (random token, stored only as its SHA-256) and a message rendered for that channel's tier.
import { createHash, randomBytes } from "node:crypto";
import type { AlertChannel } from "../core/alert-channel.ts";
import type { AckTokenRow, JobSpec } from "../core/alert-ports.ts";
import type { AlertTemplate, TemplateKind } from "../core/alert-template.ts";
import { buildEmergencyAlert, templateKindFor, type AlertOrg } from "../core/build-alert-message.ts";
import type { DeliveryPurpose, NewDelivery } from "../core/delivery.ts";
import type { Emergency } from "../core/emergency.ts";
import type { RetryLimits } from "../core/outbox-retry-policy.ts";
import { deliveryJob } from "./deliver-outbox.ts";

/** Acknowledgement links work this long; after that the API still can. */
export const ACK_TOKEN_TTL_MS = 30 * 86_400_000;

export function newDeliveryId(): string {
  return `dl_${randomBytes(8).toString("hex")}`;
}

/** 256 random bits, URL-safe: the link is the credential, so it must not be guessable. */
export function newAckToken(): string {
  return randomBytes(32).toString("base64url");
}

export function hashAckToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export function ackUrlFor(publicUrl: string, token: string): string {
  return `${publicUrl}/ack/${token}`;
}

export interface StepPlanInput {
  emergencyId: string;
  emergency: Emergency;
  org: AlertOrg;
  policyId: string | null;
  channels: readonly AlertChannel[];
  tier: number;
  step: number;
  repeat: number;
  purpose: DeliveryPurpose;
  templates: Partial<Record<TemplateKind, AlertTemplate>>;
  retry: RetryLimits;
  now: number;
  occurredAt: number;
  publicUrl: string;
  /** A row's takeover job runs when the raising process's lease would have run out. */
  leaseMs: number;
}

export function planStepDeliveries(input: StepPlanInput): {
  deliveries: NewDelivery[];
  ackTokens: AckTokenRow[];
  jobs: JobSpec[];
} {
  const deliveries: NewDelivery[] = [];
  const ackTokens: AckTokenRow[] = [];
  const template = input.templates[templateKindFor(input.emergency.isTest, input.tier)];
  for (const channel of input.channels) {
    const id = newDeliveryId();
    const token = newAckToken();
    ackTokens.push({
      hash: hashAckToken(token),
      channelId: channel.id,
      expiresAt: input.now + ACK_TOKEN_TTL_MS,
    });
    deliveries.push({
      id,
      dedupeKey: `${input.emergencyId}:${input.step}:${channel.id}`,
      orgId: input.org.id,
      emergencyId: input.emergencyId,
      eventId: null,
      channel: { id: channel.id, type: channel.type, name: channel.name },
      policyId: input.policyId,
      tier: input.tier,
      step: input.step,
      purpose: input.purpose,
      message: buildEmergencyAlert({
        id,
        emergencyId: input.emergencyId,
        emergency: input.emergency,
        org: input.org,
        tier: input.tier,
        repeat: input.repeat,
        ...(template ? { template } : {}),
        ackUrl: ackUrlFor(input.publicUrl, token),
        occurredAt: input.occurredAt,
      }),
      maxAttempts: input.retry.maxAttempts,
      deadlineAt: input.now + input.retry.windowMs,
      // Real calls go first when the outbox is busy, then test calls, then operations alerts.
      priority: input.emergency.isTest ? 1 : 0,
      nextAttemptAt: input.now,
    });
  }
  return {
    deliveries,
    ackTokens,
    jobs: deliveries.map((d) => deliveryJob(d, input.now + input.leaseMs)),
  };
}
