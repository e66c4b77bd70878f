import type { FastifyInstance } from "fastify";
import { parseAckBody } from "../core/acknowledgement-input.ts";
import {
  DELIVERY_STATUSES,
  type Delivery,
  type DeliveryAttempt,
  type DeliveryStatus,
} from "../core/delivery.ts";
import type {
  EmergencyFilter,
  EmergencyRecord,
  NewTimelineEvent,
  TimelineEvent,
} from "../core/emergency-record.ts";
import { parseEmergencyQuery } from "../core/emergency-query.ts";
import { parseNoteBody } from "../core/note-input.ts";
import { RelayError } from "../core/errors.ts";
import type { Clock } from "../core/clock.ts";
import { ValidationError } from "../core/validation-error.ts";
import type { Acknowledger } from "../flows/acknowledge-emergency.ts";
import type { OutboxWorker } from "../flows/deliver-outbox.ts";
import type { AdminGuard } from "./admin-auth.ts";
import { deliveryView, emergencyDetailView, emergencySummaryView } from "./alert-views.ts";
import { requireJsonBody } from "./org-routes.ts";

export interface EmergencyRoutesDeps {
  emergencies: {
    list(filter: EmergencyFilter): Promise<EmergencyRecord[]>;
    get(id: string): Promise<EmergencyRecord | undefined>;
    timeline(id: string): Promise<TimelineEvent[]>;
    addTimeline(events: readonly NewTimelineEvent[]): Promise<void>;
  };
  outbox: {
    list(filter: {
      emergencyId?: string;
      orgId?: string;
      status?: DeliveryStatus;
      limit?: number;
    }): Promise<Delivery[]>;
    attempts(deliveryIds: readonly string[]): Promise<DeliveryAttempt[]>;
  };
  acknowledger: Acknowledger;
  worker: Pick<OutboxWorker, "replay">;
  clock: Clock;
  requireAdmin: AdminGuard;
}

const BODY_LIMIT = 16 * 1024;

/** The emergency record over the admin API: list, detail with timeline and deliveries, acknowledge, notes, replay. */
export function registerEmergencyRoutes(app: FastifyInstance, deps: EmergencyRoutesDeps): void {
  const admin = { onRequest: deps.requireAdmin, bodyLimit: BODY_LIMIT };
  const adminWithBody = { ...admin, preValidation: requireJsonBody };

  app.get<{ Querystring: Record<string, unknown> }>("/api/emergencies", admin, async (request) => {
    const parsed = parseEmergencyQuery(request.query ?? {});
    if (!parsed.ok) throw new ValidationError(parsed.problems, "emergency filter");
    const list = await deps.emergencies.list(parsed.value);
    return { emergencies: list.map(emergencySummaryView) };
  });

  app.get<{ Params: { id: string } }>("/api/emergencies/:id", admin, async (request) => {
    const record = await found(request.params.id);
    const [timeline, deliveries] = await Promise.all([
      deps.emergencies.timeline(record.id),
      deps.outbox.list({ emergencyId: record.id }),
    ]);
    const attempts = await deps.outbox.attempts(deliveries.map((d) => d.id));
    return emergencyDetailView(record, timeline, deliveries, attempts);
  });

  app.post<{ Params: { id: string } }>("/api/emergencies/:id/ack", adminWithBody, async (request) => {
    const parsed = parseAckBody(request.body);
    if (!parsed.ok) throw new ValidationError(parsed.problems, "acknowledgement");
    const result = await deps.acknowledger.byApi(request.params.id, parsed.value.by);
    return {
      acknowledged: result.acknowledged,
      cancelledNotifications: result.cancelled,
      emergency: emergencySummaryView(result.emergency),
    };
  });

  app.post<{ Params: { id: string } }>(
    "/api/emergencies/:id/notes",
    adminWithBody,
    async (request, reply) => {
      const parsed = parseNoteBody(request.body);
      if (!parsed.ok) throw new ValidationError(parsed.problems, "note");
      const record = await found(request.params.id);
      const at = deps.clock.now();
      await deps.emergencies.addTimeline([
        {
          emergencyId: record.id,
          at,
          kind: "note",
          message: parsed.value.text,
          details: parsed.value.by === null ? null : { by: parsed.value.by },
        },
      ]);
      return reply.code(201).send({ at: new Date(at).toISOString(), kind: "note" });
    },
  );

  // Dead letters (and any other state) across emergencies and operations alerts, oldest first.
  app.get<{ Querystring: Record<string, unknown> }>("/api/deliveries", admin, async (request) => {
    const query = request.query ?? {};
    const problems = [];
    for (const key of Object.keys(query))
      if (!["orgId", "status", "limit"].includes(key))
        problems.push({ field: key, reason: "is not a known filter (expected orgId, status, limit)" });
    const { orgId, status, limit } = query;
    if (orgId !== undefined && (typeof orgId !== "string" || orgId === ""))
      problems.push({ field: "orgId", reason: "must be given once, not empty" });
    if (status !== undefined && !(DELIVERY_STATUSES as readonly unknown[]).includes(status))
      problems.push({ field: "status", reason: `must be one of ${DELIVERY_STATUSES.join(", ")}` });
    const n =
      limit === undefined ? 100 : typeof limit === "string" && /^\d{1,4}$/.test(limit) ? Number(limit) : 0;
    if (n < 1 || n > 1000) problems.push({ field: "limit", reason: "must be an integer from 1 to 1000" });
    if (problems.length > 0) throw new ValidationError(problems, "delivery filter");
    const list = await deps.outbox.list({
      ...(typeof orgId === "string" ? { orgId } : {}),
      ...(status !== undefined ? { status: status as DeliveryStatus } : {}),
      limit: n,
    });
    return { deliveries: list.map((d) => deliveryView(d)) };
  });

  app.post<{ Params: { id: string } }>("/api/deliveries/:id/replay", admin, async (request) => {
    const delivery = await deps.worker.replay(request.params.id);
    request.log.info({ deliveryId: delivery.id }, "delivery replayed");
    return deliveryView(delivery);
  });

  async function found(id: string): Promise<EmergencyRecord> {
    const record = await deps.emergencies.get(id);
    if (record === undefined) throw new RelayError("ERR_NOT_FOUND", `Emergency ${id} not found`);
    return record;
  }
}
