// What the live board shows of one emergency, computed from the record, its deliveries and its timeline. Pure,
// so the page, the server-sent updates and the tests all see the same card.
import type { ChannelType } from "./alert.ts";
import { callerName, locationText, mapUrlFor } from "./build-alert-message.ts";
import type { Delivery, DeliveryStatus } from "./delivery.ts";
import type { LocationQuality } from "./emergency.ts";
import type { Acknowledgement, EmergencyRecord, EmergencyState, TimelineEvent } from "./emergency-record.ts";

export interface BoardChannel {
  channelId: string;
  name: string;
  type: ChannelType;
  /** The tier of the channel's latest delivery. */
  tier: number;
  /** Of the channel's latest delivery. */
  status: DeliveryStatus;
  attempts: number;
  /** The channel's last answer (never secret), for failures. */
  detail: string | null;
}

export interface BoardNote {
  at: number;
  text: string;
  by: string | null;
}

export interface BoardCard {
  id: string;
  orgId: string;
  orgName: string;
  isTest: boolean;
  state: EmergencyState;
  caller: string;
  callerUpn: string | null;
  dialString: string | null;
  /** Reads loudly when unknown or unverified (core/build-alert-message.ts). */
  location: string;
  locationQuality: LocationQuality;
  mapUrl: string | null;
  teamsUrl: string | null;
  /** When the call happened: the message time, else when it was detected. */
  calledAt: number;
  detectedAt: number;
  policyName: string | null;
  /** The highest tier notified so far (0 before any escalation). */
  tier: number;
  tierCount: number;
  /** When the next tier is due if nobody acknowledges; null when none is left (or acknowledged). */
  nextTierAt: number | null;
  channels: BoardChannel[];
  /** Newest first, at most `MAX_CARD_NOTES`. */
  notes: BoardNote[];
  noteCount: number;
  acknowledgement: Acknowledgement | null;
}

export const MAX_CARD_NOTES = 3;

export function boardCard(input: {
  record: EmergencyRecord;
  orgName: string;
  deliveries: readonly Delivery[];
  timeline: readonly TimelineEvent[];
}): BoardCard {
  const { record, deliveries } = input;
  const { emergency } = record;
  const ofThisEmergency = deliveries.filter((d) => d.emergencyId === record.id);
  const tier = ofThisEmergency
    .filter((d) => d.status !== "cancelled")
    .reduce((max, d) => Math.max(max, d.tier), 0);
  const tiers = record.policy?.tiers ?? [];
  const nextTier = record.acknowledgement === null ? tiers[tier + 1] : undefined;
  const notes = input.timeline
    .filter((e) => e.kind === "note")
    .map((e) => ({ at: e.at, text: e.message, by: typeof e.details?.by === "string" ? e.details.by : null }))
    .sort((a, b) => b.at - a.at);
  return {
    id: record.id,
    orgId: record.orgId,
    orgName: input.orgName,
    isTest: record.isTest,
    state: record.state,
    caller: callerName(emergency),
    callerUpn: emergency.caller.userPrincipalName,
    dialString: record.dialString,
    location: locationText(emergency.location),
    locationQuality: emergency.location.quality,
    mapUrl: mapUrlFor(emergency.location),
    // Only a web link: the value comes from the chat message, and a `javascript:` URL would run on click.
    teamsUrl: emergency.webUrl?.startsWith("https://") ? emergency.webUrl : null,
    calledAt: emergency.messageTime ?? record.detectedAt,
    detectedAt: record.detectedAt,
    policyName: record.policy?.name ?? null,
    tier,
    tierCount: tiers.length,
    nextTierAt: nextTier ? record.detectedAt + nextTier.afterSeconds * 1000 : null,
    channels: latestPerChannel(ofThisEmergency),
    notes: notes.slice(0, MAX_CARD_NOTES),
    noteCount: notes.length,
    acknowledgement: record.acknowledgement,
  };
}

function latestPerChannel(deliveries: readonly Delivery[]): BoardChannel[] {
  const latest = new Map<string, Delivery>();
  for (const d of deliveries) {
    const seen = latest.get(d.channelId);
    if (
      seen === undefined ||
      d.createdAt > seen.createdAt ||
      (d.createdAt === seen.createdAt && d.id > seen.id)
    )
      latest.set(d.channelId, d);
  }
  return [...latest.values()]
    .sort((a, b) => a.tier - b.tier || a.channelName.localeCompare(b.channelName))
    .map((d) => ({
      channelId: d.channelId,
      name: d.channelName,
      type: d.channelType,
      tier: d.tier,
      status: d.status,
      attempts: d.attempts,
      detail: d.status === "delivered" ? null : d.lastDetail,
    }));
}
