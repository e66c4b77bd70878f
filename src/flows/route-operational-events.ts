// Operational events of severity warning and above (token revoked, subscription lost, secret expiring, an alert
// that could not be delivered) go to the org's operations policy through the same channels and outbox as
// emergencies, at most once per kind, org and hour so a flapping problem does not flood anyone.
import { randomBytes } from "node:crypto";
import { selectOperationsPolicy } from "../core/alert-policy.ts";
import type {
  AlertThrottle,
  ChannelRepository,
  OrgDirectory,
  OutboxRepository,
  PolicyRepository,
  TemplateRepository,
} from "../core/alert-ports.ts";
import { buildOperationalAlert } from "../core/build-alert-message.ts";
import type { Clock } from "../core/clock.ts";
import type { ClaimedDelivery, NewDelivery } from "../core/delivery.ts";
import { OPERATIONAL_RETRY, retryLimitsFor } from "../core/outbox-retry-policy.ts";
import { deliveryJob } from "./deliver-outbox.ts";
import type { FlowLog } from "./process-inbox.ts";

export const OPERATIONAL_ALERT_WINDOW_MS = 3_600_000;
const ROUTED_SEVERITIES = new Set(["warning", "error", "critical"]);

export interface StoredOperationalEvent {
  id: string;
  orgId: string | null;
  kind: string;
  severity: "info" | "warning" | "error" | "critical";
  message: string;
  createdAt: number;
}

export interface OperationalAlertRouterDeps {
  policies: PolicyRepository;
  channels: ChannelRepository;
  templates: TemplateRepository;
  orgs: OrgDirectory;
  outbox: Pick<OutboxRepository, "enqueue">;
  dispatch(claimed: readonly ClaimedDelivery[]): Promise<void>;
  throttle: AlertThrottle;
  clock: Clock;
  owner: string;
  leaseMs: number;
  windowMs?: number;
  log?: FlowLog;
}

export interface OperationalAlertRouter {
  /** Resolves once the alert is stored (or skipped); sending continues in the background. */
  route(event: StoredOperationalEvent): Promise<{ routed: number; skipped?: string }>;
}

const nothingToLog: FlowLog = { info() {}, warn() {}, error() {} };

export function createOperationalAlertRouter(deps: OperationalAlertRouterDeps): OperationalAlertRouter {
  const log = deps.log ?? nothingToLog;
  const windowMs = deps.windowMs ?? OPERATIONAL_ALERT_WINDOW_MS;

  return {
    async route(event) {
      if (event.orgId === null) return { routed: 0, skipped: "no org" };
      if (!ROUTED_SEVERITIES.has(event.severity)) return { routed: 0, skipped: "severity" };
      const orgId = event.orgId;
      const [org, policies, channels, templates] = await Promise.all([
        deps.orgs.get(orgId),
        deps.policies.list(orgId),
        deps.channels.list(orgId),
        deps.templates.overrides(orgId),
      ]);
      const policy = selectOperationsPolicy(policies);
      if (policy === undefined) return { routed: 0, skipped: "no operations policy" };
      const now = deps.clock.now();
      if (!(await deps.throttle.claim(`operational:${orgId}:${event.kind}`, now, windowMs))) {
        log.info({ orgId, kind: event.kind }, "operational alert skipped: same kind alerted within the hour");
        return { routed: 0, skipped: "throttled" };
      }
      const retry = retryLimitsFor(policy.retry, OPERATIONAL_RETRY);
      const byId = new Map(channels.map((c) => [c.id, c]));
      const alertOrg = { id: orgId, name: org?.name ?? orgId };
      const rows: NewDelivery[] = (policy.tiers[0]?.channelIds ?? []).flatMap((channelId) => {
        const channel = byId.get(channelId);
        if (channel === undefined) return [];
        const id = `dl_${randomBytes(8).toString("hex")}`;
        return [
          {
            id,
            dedupeKey: `${event.id}:${channel.id}`,
            orgId,
            emergencyId: null,
            eventId: event.id,
            channel: { id: channel.id, type: channel.type, name: channel.name },
            policyId: policy.id,
            tier: 0,
            step: 0,
            purpose: "operational" as const,
            message: buildOperationalAlert({
              id,
              event,
              org: alertOrg,
              ...(templates.operational ? { template: templates.operational } : {}),
            }),
            maxAttempts: retry.maxAttempts,
            deadlineAt: now + retry.windowMs,
            priority: 2,
            nextAttemptAt: now,
          },
        ];
      });
      const claimed = await deps.outbox.enqueue(
        rows,
        { owner: deps.owner, now, leaseMs: deps.leaseMs },
        { schedule: rows.map((r) => deliveryJob(r, now + deps.leaseMs)) },
      );
      void deps.dispatch(claimed);
      return { routed: claimed.length };
    },
  };
}
