// The escalation job of one emergency: when a step of its ladder comes due and nobody has acknowledged, the next
// tier (or a repeat) is notified through the outbox, and the job is set for the step after. The step counter
// moves in the same transaction as the new deliveries, conditional on no acknowledgement, so a job run twice or
// racing an acknowledgement never notifies anyone twice or after the fact.
import type {
  AckTokenRow,
  ChannelRepository,
  EmergencyRepository,
  JobSpec,
  OrgDirectory,
  TemplateRepository,
} from "../core/alert-ports.ts";
import type { Clock } from "../core/clock.ts";
import type { ClaimedDelivery, NewDelivery } from "../core/delivery.ts";
import type { NewTimelineEvent } from "../core/emergency-record.ts";
import { dueSteps, escalationSteps } from "../core/escalation-schedule.ts";
import { EMERGENCY_RETRY, retryLimitsFor } from "../core/outbox-retry-policy.ts";
import type { JobQueue } from "../core/ports.ts";
import { planStepDeliveries } from "./plan-emergency-deliveries.ts";
import type { FlowLog } from "./process-inbox.ts";
import { JOB_ALERT_ESCALATE, escalationJobKey } from "./raise-emergency.ts";

export interface EscalatorDeps {
  emergencies: EmergencyRepository;
  channels: ChannelRepository;
  templates: TemplateRepository;
  orgs: OrgDirectory;
  dispatch(claimed: readonly ClaimedDelivery[]): Promise<void>;
  jobs: JobQueue;
  clock: Clock;
  owner: string;
  leaseMs: number;
  publicUrl: string;
  log?: FlowLog;
}

export interface Escalator {
  /** The `alert.escalate` job: carries out the due steps and sets the job for the next one. */
  runJob(emergencyId: string): Promise<void>;
}

const nothingToLog: FlowLog = { info() {}, warn() {}, error() {} };

export function createEscalator(deps: EscalatorDeps): Escalator {
  const log = deps.log ?? nothingToLog;

  return {
    async runJob(emergencyId) {
      const record = await deps.emergencies.get(emergencyId);
      if (record === undefined || record.acknowledgement !== null || record.policy === null) return;
      const now = deps.clock.now();
      const steps = escalationSteps(record.policy.tiers);
      const { run, done, nextAt } = dueSteps(steps, record.escalationStep, record.detectedAt, now);
      const nextJob: JobSpec | undefined =
        nextAt === undefined
          ? undefined
          : {
              kind: JOB_ALERT_ESCALATE,
              orgId: record.orgId,
              dedupeKey: escalationJobKey(emergencyId),
              runAt: nextAt,
            };
      if (run.length === 0) {
        // Woken early (a clock step, a manual run): come back when the next step is due.
        if (nextJob) await deps.jobs.schedule(nextJob, now);
        return;
      }
      const [org, channels, templates] = await Promise.all([
        deps.orgs.get(record.orgId),
        deps.channels.list(record.orgId),
        deps.templates.overrides(record.orgId),
      ]);
      const byId = new Map(channels.map((c) => [c.id, c]));
      const retry = retryLimitsFor(record.policy.retry, EMERGENCY_RETRY);
      const deliveries: NewDelivery[] = [];
      const ackTokens: AckTokenRow[] = [];
      const jobs: JobSpec[] = [];
      const timeline: NewTimelineEvent[] = [];
      for (const step of run) {
        const tier = record.policy.tiers[step.tier]!;
        const targets = tier.channelIds.flatMap((id) => byId.get(id) ?? []);
        const planned = planStepDeliveries({
          emergencyId,
          emergency: record.emergency,
          org: { id: record.orgId, name: org?.name ?? record.orgId },
          policyId: record.policy.id,
          channels: targets,
          tier: step.tier,
          step: step.index,
          repeat: step.repeat,
          purpose: step.repeat > 0 ? "repeat" : "escalation",
          templates,
          retry,
          now,
          occurredAt: record.emergency.messageTime ?? record.detectedAt,
          publicUrl: deps.publicUrl,
          leaseMs: deps.leaseMs,
        });
        deliveries.push(...planned.deliveries);
        ackTokens.push(...planned.ackTokens);
        jobs.push(...planned.jobs);
        const names = targets.map((c) => c.name).join(", ") || "no existing channel";
        const waited = Math.round((now - record.detectedAt) / 1000);
        timeline.push({
          emergencyId,
          at: now,
          kind: step.repeat > 0 ? "repeated" : "escalated",
          message:
            step.repeat > 0
              ? `Not acknowledged after ${waited} s: reminder ${step.repeat} to tier ${step.tier} (${names})`
              : `Not acknowledged after ${waited} s: escalated to tier ${step.tier} (${names})`,
          details: {
            tier: step.tier,
            repeat: step.repeat,
            step: step.index,
            channels: targets.map((c) => ({ id: c.id, name: c.name, type: c.type })),
          },
        });
      }
      const claimed = await deps.emergencies.advanceEscalation({
        id: emergencyId,
        fromStep: record.escalationStep,
        toStep: done,
        ackTokens,
        deliveries,
        timeline,
        claim: { owner: deps.owner, now, leaseMs: deps.leaseMs },
        jobs: { schedule: [...jobs, ...(nextJob ? [nextJob] : [])] },
        now,
      });
      if (claimed === undefined) {
        log.info({ emergencyId }, "escalation skipped: acknowledged meanwhile, or already carried out");
        return;
      }
      log.warn(
        { orgId: record.orgId, emergencyId, tiers: run.map((s) => s.tier), deliveries: claimed.length },
        "emergency not acknowledged; escalated",
      );
      await deps.dispatch(claimed);
    },
  };
}
