// Turns a detected emergency (or an operational event) into the AlertMessage every channel sends: template
// variables, the label/value facts, the links. The location reads loudly when it is unknown or unverified,
// because that is what the people running to the caller need to know first.
import type { AlertField, AlertMessage } from "./alert.ts";
import {
  DEFAULT_TEMPLATES,
  renderTemplate,
  type AlertTemplate,
  type TemplateKind,
} from "./alert-template.ts";
import type { Emergency, EmergencyLocation, LocationQuality } from "./emergency.ts";

export interface AlertOrg {
  id: string;
  name: string;
}

export const UNKNOWN_LOCATION = "LOCATION UNKNOWN (ask the caller or the emergency dispatcher)";

export function locationText(location: EmergencyLocation): string {
  const described = [location.place, location.civicAddress].filter((p): p is string => !!p).join(", ");
  const text = described !== "" ? described : (location.raw ?? "");
  if (location.quality === "unknown" || text === "") return UNKNOWN_LOCATION;
  if (location.quality === "user_entered") return `${text} (entered by the caller, NOT VERIFIED)`;
  return text;
}

export function locationQualityText(quality: LocationQuality): string {
  switch (quality) {
    case "known":
      return "known (resolved by Teams)";
    case "user_entered":
      return "entered by the caller, not verified";
    case "unknown":
      return "UNKNOWN";
  }
}

/** `2026-11-27 09:00:00 UTC`: unambiguous for every reader, whatever their time zone. */
export function formatAlertTime(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** A maps link for the coordinates, or else the civic address; null when there is neither. */
export function mapUrlFor(location: EmergencyLocation): string | null {
  if (location.coordinates) {
    const { latitude, longitude } = location.coordinates;
    return `https://www.google.com/maps/search/?api=1&query=${latitude},${longitude}`;
  }
  if (location.civicAddress && location.quality !== "unknown") {
    return `https://www.google.com/maps/search/?api=1&query=${encodeURIComponent(location.civicAddress)}`;
  }
  return null;
}

export function callerName(emergency: Pick<Emergency, "caller">): string {
  return emergency.caller.displayName ?? emergency.caller.userPrincipalName ?? "Unknown caller";
}

/** Tier 0 uses the emergency (or test) template; later tiers the escalation one. */
export function templateKindFor(isTest: boolean, tier: number): TemplateKind {
  if (tier > 0) return "escalation";
  return isTest ? "test" : "emergency";
}

export interface EmergencyAlertInput {
  /** The delivery id: stable across retries, receivers dedupe on it. */
  id: string;
  emergencyId: string;
  emergency: Emergency;
  org: AlertOrg;
  tier: number;
  /** 0 for the tier's first notification, n for its n-th repeat. */
  repeat: number;
  template?: AlertTemplate;
  ackUrl: string | null;
  /** When the call happened: the message time, or when it was detected. */
  occurredAt: number;
}

export function emergencyVariables(
  input: Omit<EmergencyAlertInput, "id" | "template" | "repeat">,
): Record<string, string> {
  const { emergency } = input;
  const coordinates = emergency.location.coordinates;
  return {
    callType: emergency.isTest ? "TEST CALL" : "EMERGENCY CALL",
    caller: callerName(emergency),
    callerUpn: emergency.caller.userPrincipalName ?? "",
    dialString: emergency.dialString ?? "(number unknown)",
    location: locationText(emergency.location),
    locationQuality: locationQualityText(emergency.location.quality),
    place: emergency.location.place ?? "",
    civicAddress: emergency.location.civicAddress ?? "",
    coordinates: coordinates ? `${coordinates.latitude}, ${coordinates.longitude}` : "",
    time: formatAlertTime(input.occurredAt),
    orgName: input.org.name,
    ackUrl: input.ackUrl ?? "",
    mapUrl: mapUrlFor(emergency.location) ?? "",
    teamsUrl: emergency.webUrl ?? "",
    tier: String(input.tier),
    emergencyId: input.emergencyId,
  };
}

export function buildEmergencyAlert(input: EmergencyAlertInput): AlertMessage {
  const { emergency } = input;
  const kind = templateKindFor(emergency.isTest, input.tier);
  const variables = emergencyVariables(input);
  const rendered = renderTemplate(input.template ?? DEFAULT_TEMPLATES[kind], variables);
  const fields: AlertField[] = [
    { label: "Caller", value: variables.caller! },
    { label: "Dialed", value: variables.dialString! },
    { label: "Location", value: variables.location! },
    { label: "Location quality", value: variables.locationQuality! },
    { label: "Time", value: variables.time! },
  ];
  if (emergency.isTest) fields.unshift({ label: "Call type", value: "TEST CALL (not an emergency)" });
  if (input.tier > 0) fields.push({ label: "Escalation tier", value: String(input.tier) });
  return {
    id: input.id,
    kind: kind === "test" ? "test" : kind === "escalation" ? "escalation" : "emergency",
    severity: emergency.isTest ? "info" : "critical",
    orgId: input.org.id,
    orgName: input.org.name,
    emergencyId: input.emergencyId,
    title: input.repeat > 0 ? `REMINDER ${input.repeat}: ${rendered.title}` : rendered.title,
    text: rendered.text,
    fields,
    acknowledgeUrl: input.ackUrl,
    mapUrl: mapUrlFor(emergency.location),
    teamsUrl: emergency.webUrl,
    occurredAt: input.occurredAt,
    isTestCall: emergency.isTest,
    emergency,
  };
}

export interface OperationalEventInput {
  kind: string;
  severity: "info" | "warning" | "error" | "critical";
  message: string;
  createdAt: number;
}

export function operationalVariables(event: OperationalEventInput, org: AlertOrg): Record<string, string> {
  return {
    orgName: org.name,
    time: formatAlertTime(event.createdAt),
    severity: event.severity.toUpperCase(),
    eventKind: event.kind,
    eventMessage: event.message,
  };
}

export function buildOperationalAlert(input: {
  id: string;
  event: OperationalEventInput;
  org: AlertOrg;
  template?: AlertTemplate;
}): AlertMessage {
  const variables = operationalVariables(input.event, input.org);
  const rendered = renderTemplate(input.template ?? DEFAULT_TEMPLATES.operational, variables);
  return {
    id: input.id,
    kind: "operational",
    severity:
      input.event.severity === "warning" ? "warning" : input.event.severity === "info" ? "info" : "critical",
    orgId: input.org.id,
    orgName: input.org.name,
    emergencyId: null,
    title: rendered.title,
    text: rendered.text,
    fields: [
      { label: "Event", value: input.event.kind },
      { label: "Severity", value: variables.severity! },
      { label: "Time", value: variables.time! },
    ],
    acknowledgeUrl: null,
    mapUrl: null,
    teamsUrl: null,
    occurredAt: input.event.createdAt,
    isTestCall: false,
    emergency: null,
  };
}

/** The emergency a template preview renders: every field filled, so every variable shows. */
export function sampleEmergency(isTest: boolean): Emergency {
  return {
    chatId: "19:sample-chat@unq.gbl.spaces",
    messageId: "1700000000000",
    messageTime: null,
    webUrl: "https://teams.microsoft.com/l/message/19:sample-chat@unq.gbl.spaces/1700000000000",
    caller: { id: null, displayName: "Pat Jones", userPrincipalName: "pat.jones@contoso.com" },
    dialString: isTest ? "933" : "911",
    isTest,
    location: {
      raw: "Building 4, Floor 2, 1 Microsoft Way, Redmond, WA 98052",
      place: "Building 4, Floor 2",
      civicAddress: "1 Microsoft Way, Redmond, WA 98052",
      coordinates: { latitude: 47.6396, longitude: -122.1283 },
      quality: "known",
    },
    html: "<p>Pat Jones has placed an Emergency Call</p>",
    text: "Pat Jones has placed an Emergency Call",
  };
}
