import { callerName, locationText } from "./build-alert-message.ts";
import { toCsv } from "./csv.ts";
import type { EmergencyRecord } from "./emergency-record.ts";

const HEADER = [
  "id",
  "organization",
  "detected_at_utc",
  "call_time_utc",
  "type",
  "dial_string",
  "caller",
  "caller_upn",
  "location",
  "location_quality",
  "coordinates",
  "state",
  "policy",
  "acknowledged_at_utc",
  "acknowledged_by",
  "acknowledged_via",
  "seconds_to_acknowledge",
];

/** The history export: one row per emergency, times in UTC (ISO 8601), escaped for spreadsheets. */
export function emergencyCsv(
  records: readonly EmergencyRecord[],
  orgNames: ReadonlyMap<string, string>,
): string {
  const iso = (ms: number | null | undefined) =>
    ms === null || ms === undefined ? null : new Date(ms).toISOString();
  return toCsv([
    HEADER,
    ...records.map((r) => {
      const { emergency, acknowledgement: ack } = r;
      const coordinates = emergency.location.coordinates;
      return [
        r.id,
        orgNames.get(r.orgId) ?? r.orgId,
        iso(r.detectedAt),
        iso(emergency.messageTime ?? r.detectedAt),
        r.isTest ? "test" : "real",
        r.dialString,
        callerName(emergency),
        emergency.caller.userPrincipalName,
        locationText(emergency.location),
        emergency.location.quality,
        coordinates ? `${coordinates.latitude}, ${coordinates.longitude}` : null,
        r.state,
        r.policy?.name ?? null,
        iso(ack?.at),
        ack?.by ?? null,
        ack?.via ?? null,
        ack ? Math.round((ack.at - r.detectedAt) / 1000) : null,
      ];
    }),
  ]);
}
