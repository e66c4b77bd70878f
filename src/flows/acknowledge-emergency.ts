// Acknowledging an emergency, by the link in an alert (the confirm page's POST) or through the API. The first
// acknowledgement wins and stops escalation and repeats; later ones are told who was first. Looking a link up
// never acknowledges: mail scanners and chat unfurlers follow links.
import type { ChannelRepository, EmergencyRepository } from "../core/alert-ports.ts";
import type { Clock } from "../core/clock.ts";
import type { AcknowledgedVia, EmergencyRecord } from "../core/emergency-record.ts";
import { RelayError } from "../core/errors.ts";
import { deliveryJobKey } from "./deliver-outbox.ts";
import { hashAckToken } from "./plan-emergency-deliveries.ts";
import type { FlowLog } from "./process-inbox.ts";
import { escalationJobKey } from "./raise-emergency.ts";

export interface AcknowledgerDeps {
  emergencies: EmergencyRepository;
  channels: Pick<ChannelRepository, "list">;
  clock: Clock;
  log?: FlowLog;
}

export interface AckLink {
  emergency: EmergencyRecord;
  /** The channel the link was sent to, when it still exists. */
  channelName: string | null;
  channelId: string | null;
}

export interface AckResult {
  /** False when someone else was first; `emergency.acknowledgement` says who. */
  acknowledged: boolean;
  emergency: EmergencyRecord;
  /** Pending escalations and repeats this acknowledgement cancelled. */
  cancelled: number;
}

export interface Acknowledger {
  /** What a link's confirm page shows; undefined for an unknown or expired token. */
  lookup(token: string): Promise<AckLink | undefined>;
  /** The confirm page's POST; undefined for an unknown or expired token. */
  byLink(token: string, by: string | null): Promise<AckResult | undefined>;
  /** `POST /api/emergencies/{id}/ack`; throws ERR_NOT_FOUND for an unknown id. */
  byApi(emergencyId: string, by: string): Promise<AckResult>;
  /** A signed-in responder in the web app (`by`: their name); throws ERR_NOT_FOUND for an unknown id. */
  byWeb(emergencyId: string, by: string): Promise<AckResult>;
}

const nothingToLog: FlowLog = { info() {}, warn() {}, error() {} };
// Tokens are 43 base64url characters; anything else is not worth a database lookup.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{20,100}$/;

export function createAcknowledger(deps: AcknowledgerDeps): Acknowledger {
  const log = deps.log ?? nothingToLog;

  async function lookup(token: string): Promise<AckLink | undefined> {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    const found = await deps.emergencies.findAckToken(hashAckToken(token), deps.clock.now());
    if (found === undefined) return undefined;
    const emergency = await deps.emergencies.get(found.emergencyId);
    if (emergency === undefined) return undefined;
    const channel =
      found.channelId === null
        ? undefined
        : (await deps.channels.list(emergency.orgId)).find((c) => c.id === found.channelId);
    return { emergency, channelId: found.channelId, channelName: channel?.name ?? null };
  }

  async function acknowledge(
    emergency: EmergencyRecord,
    by: string | null,
    via: AcknowledgedVia,
    channel: { id: string | null; name: string | null },
  ): Promise<AckResult> {
    const at = deps.clock.now();
    const who = by ?? "someone who gave no name";
    const how =
      via === "api"
        ? "through the API"
        : via === "web"
          ? "in the web app"
          : `with the link sent to ${channel.name ?? "a channel"}`;
    const outcome = await deps.emergencies.acknowledge({
      id: emergency.id,
      acknowledgement: { at, by, via, channelId: channel.id },
      timeline: {
        emergencyId: emergency.id,
        at,
        kind: "acknowledged",
        message: `Acknowledged by ${who} ${how} after ${Math.max(0, Math.round((at - emergency.detectedAt) / 1000))} s`,
        details: { by, via, channelId: channel.id, channelName: channel.name },
      },
      cancelledEvent: (count) => ({
        emergencyId: emergency.id,
        at,
        kind: "cancelled",
        message: `Escalation stopped: ${count} pending notification${count === 1 ? "" : "s"} cancelled`,
        details: { count },
      }),
      jobsToRemove: (ids) => [escalationJobKey(emergency.id), ...ids.map(deliveryJobKey)],
    });
    if (outcome === undefined) throw new RelayError("ERR_NOT_FOUND", `Emergency ${emergency.id} not found`);
    if (outcome.acknowledged)
      log.info({ orgId: emergency.orgId, emergencyId: emergency.id, via }, "emergency acknowledged");
    return {
      acknowledged: outcome.acknowledged,
      emergency: outcome.emergency,
      cancelled: outcome.cancelled.length,
    };
  }

  async function byId(emergencyId: string, by: string, via: "api" | "web"): Promise<AckResult> {
    const emergency = await deps.emergencies.get(emergencyId);
    if (emergency === undefined) throw new RelayError("ERR_NOT_FOUND", `Emergency ${emergencyId} not found`);
    return acknowledge(emergency, by, via, { id: null, name: null });
  }

  return {
    lookup,
    async byLink(token, by) {
      const link = await lookup(token);
      if (link === undefined) return undefined;
      return acknowledge(link.emergency, by, "link", { id: link.channelId, name: link.channelName });
    },
    byApi: (emergencyId, by) => byId(emergencyId, by, "api"),
    byWeb: (emergencyId, by) => byId(emergencyId, by, "web"),
  };
}
