// What the alerting flows (raise, deliver, escalate, acknowledge, operational routing) need from storage. The
// stores in src/storage implement these; main.ts passes them in. Writes that belong together (an emergency and
// its first deliveries, an attempt and its timeline) are one call, so each is one transaction.
import type { AlertChannel, ChannelTarget } from "./alert-channel.ts";
import type { AlertPolicy } from "./alert-policy.ts";
import type { AlertTemplate, TemplateKind } from "./alert-template.ts";
import type { ClaimedDelivery, Delivery, DeliveryAttempt, NewDelivery } from "./delivery.ts";
import type { Acknowledgement, EmergencyRecord, NewTimelineEvent } from "./emergency-record.ts";

/** Leases rows to `owner` until `now + leaseMs`. */
export interface ClaimOptions {
  owner: string;
  now: number;
  leaseMs: number;
}

export interface JobSpec {
  kind: string;
  orgId?: string | null;
  dedupeKey: string;
  runAt: number;
}

/** Job bookkeeping done in the same transaction as the change it belongs to. */
export interface JobChanges {
  schedule?: JobSpec[];
  unschedule?: string[];
}

export type AttemptDecisionRecord =
  { status: "delivered" } | { status: "retry"; at: number } | { status: "dead"; reason: string };

export interface FinishAttempt {
  id: string;
  owner: string;
  now: number;
  attempt: Omit<DeliveryAttempt, "deliveryId">;
  decision: AttemptDecisionRecord;
  timeline: NewTimelineEvent[];
  /** Applied only while `owner` still holds the lease. */
  jobs: JobChanges;
  /** HTTP 410: the channel is disabled in the same transaction. */
  disableChannel?: { id: string; reason: string };
}

export interface ReplayInput {
  now: number;
  maxAttempts: number;
  windowMs: number;
  timeline: NewTimelineEvent[];
  jobs: JobChanges;
}

export interface OutboxRepository {
  enqueue(rows: readonly NewDelivery[], claim?: ClaimOptions, jobs?: JobChanges): Promise<ClaimedDelivery[]>;
  claim(owner: string, now: number, leaseMs: number, limit: number): Promise<ClaimedDelivery[]>;
  /** True when the row was updated (the lease was still `owner`'s). */
  finish(input: FinishAttempt): Promise<boolean>;
  replay(id: string, input: ReplayInput): Promise<{ replayed: boolean; delivery: Delivery } | undefined>;
  get(id: string): Promise<Delivery | undefined>;
  pendingDueTimes(): Promise<{ id: string; orgId: string; at: number }[]>;
  /** Claimed rows never sent, back to pending and unleased (the claim uncounted), with `jobs` applied. */
  release(ids: readonly string[], owner: string, jobs: JobChanges, now: number): Promise<void>;
  /** Every pending row `owner` holds, unleased, with `jobsFor(released)` applied. Returns how many. */
  releaseAllOf(
    owner: string,
    now: number,
    jobsFor: (released: { id: string; orgId: string }[]) => JobChanges,
  ): Promise<number>;
}

export interface AckTokenRow {
  /** SHA-256 hex of the token; the token itself is only in the (sealed) messages. */
  hash: string;
  channelId: string | null;
  expiresAt: number;
}

/** Everything raising an emergency writes, in one transaction. */
export interface RaisePlan {
  record: EmergencyRecord;
  timeline: NewTimelineEvent[];
  ackTokens: AckTokenRow[];
  deliveries: NewDelivery[];
  /** Leases the new deliveries to the raising process, which sends them at once. */
  claim?: ClaimOptions;
  jobs: JobChanges;
}

export type RaiseOutcome =
  | { created: true; emergency: EmergencyRecord; claimed: ClaimedDelivery[] }
  | { created: false; emergency: EmergencyRecord };

export interface AcknowledgeInput {
  id: string;
  acknowledgement: Acknowledgement;
  timeline: NewTimelineEvent;
  /** Describes the cancelled escalations for the timeline. */
  cancelledEvent: (count: number) => NewTimelineEvent;
  /** Job keys to remove: the escalation timer and the cancelled rows' delivery jobs. */
  jobsToRemove: (cancelledIds: readonly string[]) => string[];
}

export type AcknowledgeOutcome = { acknowledged: boolean; emergency: EmergencyRecord; cancelled: string[] };

export interface AdvanceEscalationInput {
  id: string;
  fromStep: number;
  toStep: number;
  ackTokens: AckTokenRow[];
  deliveries: NewDelivery[];
  timeline: NewTimelineEvent[];
  claim?: ClaimOptions;
  jobs: JobChanges;
  now: number;
}

export interface EmergencyRepository {
  raise(plan: RaisePlan): Promise<RaiseOutcome>;
  get(id: string): Promise<EmergencyRecord | undefined>;
  addTimeline(events: readonly NewTimelineEvent[]): Promise<void>;
  findAckToken(
    hash: string,
    now: number,
  ): Promise<{ emergencyId: string; channelId: string | null } | undefined>;
  acknowledge(input: AcknowledgeInput): Promise<AcknowledgeOutcome | undefined>;
  advanceEscalation(input: AdvanceEscalationInput): Promise<ClaimedDelivery[] | undefined>;
}

export interface ChannelRepository {
  list(orgId: string): Promise<AlertChannel[]>;
  withSecrets(id: string): Promise<{ channel: AlertChannel; target: ChannelTarget } | undefined>;
}

export interface PolicyRepository {
  list(orgId: string): Promise<AlertPolicy[]>;
}

export interface TemplateRepository {
  overrides(orgId: string): Promise<Partial<Record<TemplateKind, AlertTemplate>>>;
}

export interface OrgDirectory {
  get(id: string): Promise<{ id: string; name: string } | undefined>;
}

export interface AlertThrottle {
  /** True when nothing was claimed for `key` within `windowMs` before `now`. */
  claim(key: string, now: number, windowMs: number): Promise<boolean>;
}
