// From "detection says emergency" to alerts on their way. The emergency and its first deliveries are stored in
// one transaction before anything is sent (a crash after it loses nothing: the rows' jobs take them over), and
// the rows come back leased to this process so they go out at once, without a polling delay. The same message
// arriving again (a duplicate notification, an edit, a retry of the hand-off) finds the stored emergency and
// sends nothing.
import { randomBytes } from "node:crypto";
import type { AlertChannel } from "../core/alert-channel.ts";
import {
  selectOperationsPolicy,
  selectPolicy,
  snapshotOf,
  type AlertPolicy,
  type PolicySnapshot,
} from "../core/alert-policy.ts";
import type {
  ChannelRepository,
  EmergencyRepository,
  OrgDirectory,
  PolicyRepository,
  TemplateRepository,
} from "../core/alert-ports.ts";
import { callerName, locationText } from "../core/build-alert-message.ts";
import type { Clock } from "../core/clock.ts";
import type { ClaimedDelivery } from "../core/delivery.ts";
import type { Emergency } from "../core/emergency.ts";
import type { EmergencyRecord, EmergencyState, NewTimelineEvent } from "../core/emergency-record.ts";
import { dueSteps, escalationSteps } from "../core/escalation-schedule.ts";
import { EMERGENCY_RETRY, retryLimitsFor } from "../core/outbox-retry-policy.ts";
import type { EventSink } from "../core/ports.ts";
import { planStepDeliveries } from "./plan-emergency-deliveries.ts";
import type { FlowLog } from "./process-inbox.ts";

/** Job kind; main registers `escalator.runJob(emergencyId)` for it. */
export const JOB_ALERT_ESCALATE = "alert.escalate";

export function escalationJobKey(emergencyId: string): string {
  return `${JOB_ALERT_ESCALATE}:${emergencyId}`;
}

export interface EmergencyRaiserDeps {
  emergencies: EmergencyRepository;
  policies: PolicyRepository;
  channels: ChannelRepository;
  templates: TemplateRepository;
  orgs: OrgDirectory;
  /** The outbox worker: sends rows this process holds. */
  dispatch(claimed: readonly ClaimedDelivery[]): Promise<void>;
  events: EventSink;
  clock: Clock;
  owner: string;
  leaseMs: number;
  /** RELAY_PUBLIC_URL: acknowledgement links point here. */
  publicUrl: string;
  log?: FlowLog;
}

export interface RaiseResult {
  emergencyId: string;
  /** False when the emergency was stored before (nothing was sent this time). */
  created: boolean;
  state: EmergencyState;
  /** Deliveries started now. */
  deliveries: number;
  /** Resolves when this call's first deliveries are finished (tests and the demo wait on it). */
  sent: Promise<void>;
}

export interface EmergencyRaiser {
  raise(orgId: string, detected: { value: Emergency; ruleId: string }): Promise<RaiseResult>;
}

const nothingToLog: FlowLog = { info() {}, warn() {}, error() {} };

export function createEmergencyRaiser(deps: EmergencyRaiserDeps): EmergencyRaiser {
  const log = deps.log ?? nothingToLog;

  return {
    async raise(orgId, detected) {
      const emergency = detected.value;
      const now = deps.clock.now();
      const [org, policies, channels, templates] = await Promise.all([
        deps.orgs.get(orgId),
        deps.policies.list(orgId),
        deps.channels.list(orgId),
        deps.templates.overrides(orgId),
      ]);
      const alertOrg = { id: orgId, name: org?.name ?? orgId };
      const id = `em_${randomBytes(8).toString("hex")}`;
      const route = routeFor(policies, emergency);
      const timeline: NewTimelineEvent[] = [detectedEvent(id, now, emergency, detected.ruleId)];
      const byId = new Map(channels.map((c) => [c.id, c]));
      const tier0 = route.policy?.tiers[0]?.channelIds ?? [];
      const missing = tier0.filter((c) => !byId.has(c));
      const targets = tier0.flatMap((c) => byId.get(c) ?? []);
      timeline.push(routeEvent(id, now, route, targets, missing));

      const snapshot: PolicySnapshot | null = route.policy ? snapshotOf(route.policy) : null;
      const retry = retryLimitsFor(snapshot?.retry ?? null, EMERGENCY_RETRY);
      const planned = planStepDeliveries({
        emergencyId: id,
        emergency,
        org: alertOrg,
        policyId: route.policy?.id ?? null,
        channels: targets,
        tier: 0,
        step: 0,
        repeat: 0,
        purpose: "initial",
        templates,
        retry,
        now,
        occurredAt: emergency.messageTime ?? now,
        publicUrl: deps.publicUrl,
        leaseMs: deps.leaseMs,
      });
      const escalation =
        route.kind === "policy" && snapshot
          ? dueSteps(escalationSteps(snapshot.tiers), 1, now, now)
          : undefined;
      const nobody = targets.length === 0 && escalation?.nextAt === undefined;
      const state: EmergencyState = route.kind === "none" || nobody ? "unrouted" : "open";
      const record: EmergencyRecord = {
        id,
        orgId,
        chatId: emergency.chatId,
        messageId: emergency.messageId,
        isTest: emergency.isTest,
        dialString: emergency.dialString,
        callerName: emergency.caller.displayName ?? emergency.caller.userPrincipalName,
        locationQuality: emergency.location.quality,
        ruleId: detected.ruleId,
        emergency,
        // The operations fallback has no escalation of its own: it is a last resort, not a ladder.
        policy: route.kind === "policy" ? snapshot : null,
        state,
        escalationStep: 1,
        detectedAt: now,
        acknowledgement: null,
      };
      const outcome = await deps.emergencies.raise({
        record,
        timeline,
        ackTokens: planned.ackTokens,
        deliveries: planned.deliveries,
        claim: { owner: deps.owner, now, leaseMs: deps.leaseMs },
        jobs: {
          schedule: [
            ...planned.jobs,
            ...(escalation?.nextAt !== undefined
              ? [
                  {
                    kind: JOB_ALERT_ESCALATE,
                    orgId,
                    dedupeKey: escalationJobKey(id),
                    runAt: escalation.nextAt,
                  },
                ]
              : []),
          ],
        },
      });
      if (!outcome.created) {
        log.info(
          {
            orgId,
            emergencyId: outcome.emergency.id,
            chatId: emergency.chatId,
            messageId: emergency.messageId,
          },
          "emergency already raised for this message; nothing sent again",
        );
        return {
          emergencyId: outcome.emergency.id,
          created: false,
          state: outcome.emergency.state,
          deliveries: 0,
          sent: Promise.resolve(),
        };
      }
      const sent = deps.dispatch(outcome.claimed);
      log.warn(
        {
          orgId,
          emergencyId: id,
          isTest: emergency.isTest,
          dialString: emergency.dialString,
          policyId: route.policy?.id ?? null,
          deliveries: outcome.claimed.length,
        },
        emergency.isTest ? "test call raised" : "EMERGENCY raised",
      );
      await reportUnrouted(route, orgId, id, emergency, targets.length);
      return { emergencyId: id, created: true, state, deliveries: outcome.claimed.length, sent };
    },
  };

  /** A real call that reaches nobody, or only the fallback, is the worst outcome: an operational alarm. */
  async function reportUnrouted(
    route: Route,
    orgId: string,
    emergencyId: string,
    emergency: Emergency,
    targets: number,
  ): Promise<void> {
    if (emergency.isTest || (route.kind === "policy" && targets > 0)) return;
    const message =
      route.kind === "fallback"
        ? "An emergency call matched no emergency policy and went to the operations policy; add a policy for it."
        : route.kind === "policy"
          ? "An emergency call's policy names no existing channel: nobody was notified."
          : "An emergency call matched no policy and no operations policy exists: nobody was notified.";
    try {
      await deps.events.append({
        orgId,
        kind: "emergency_unrouted",
        severity: "critical",
        message,
        details: { emergencyId, dialString: emergency.dialString },
      });
    } catch (error) {
      log.error({ orgId, emergencyId, err: error }, "could not record an unrouted emergency");
    }
  }
}

type Route =
  | { kind: "policy"; policy: AlertPolicy }
  | { kind: "fallback"; policy: AlertPolicy }
  | { kind: "none"; policy?: undefined };

/** A real call no policy takes goes to the operations policy rather than nowhere; a test call never does. */
function routeFor(policies: readonly AlertPolicy[], emergency: Emergency): Route {
  const policy = selectPolicy(policies, emergency);
  if (policy) return { kind: "policy", policy };
  const operations = emergency.isTest ? undefined : selectOperationsPolicy(policies);
  return operations ? { kind: "fallback", policy: operations } : { kind: "none" };
}

function detectedEvent(id: string, at: number, emergency: Emergency, ruleId: string): NewTimelineEvent {
  return {
    emergencyId: id,
    at,
    kind: "detected",
    message: `${emergency.isTest ? "Test call" : "Emergency call"} ${emergency.dialString ?? "(number unknown)"} by ${callerName(emergency)} at ${locationText(emergency.location)}`,
    details: {
      ruleId,
      isTest: emergency.isTest,
      dialString: emergency.dialString,
      caller: emergency.caller,
      locationQuality: emergency.location.quality,
      messageTime: emergency.messageTime,
      chatId: emergency.chatId,
      messageId: emergency.messageId,
    },
  };
}

function routeEvent(
  id: string,
  at: number,
  route: Route,
  targets: readonly AlertChannel[],
  missing: readonly string[],
): NewTimelineEvent {
  const names = targets.map((c) => c.name).join(", ");
  const details = {
    policyId: route.policy?.id ?? null,
    policyName: route.policy?.name ?? null,
    channels: targets.map((c) => ({ id: c.id, name: c.name, type: c.type })),
    ...(missing.length > 0 ? { missingChannelIds: missing } : {}),
  };
  if (route.kind === "none")
    return {
      emergencyId: id,
      at,
      kind: "unrouted",
      message: "No policy matched: recorded, nobody notified (a test call goes only to a test policy)",
      details,
    };
  const via =
    route.kind === "fallback"
      ? `No emergency policy matched; sent to the operations policy "${route.policy.name}"`
      : `Routed by policy "${route.policy.name}"`;
  return {
    emergencyId: id,
    at,
    kind: targets.length > 0 ? "routed" : "unrouted",
    message:
      targets.length > 0 ? `${via}: tier 0 to ${names}` : `${via}, but none of its tier 0 channels exists`,
    details,
  };
}
