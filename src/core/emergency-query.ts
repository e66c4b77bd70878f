import { EMERGENCY_STATES, type EmergencyFilter, type EmergencyState } from "./emergency-record.ts";
import type { ParseResult } from "./org-input.ts";
import type { FieldProblem } from "./validation-error.ts";

export const DEFAULT_EMERGENCY_LIMIT = 100;
export const MAX_EMERGENCY_LIMIT = 1000;
const KNOWN = ["orgId", "since", "until", "state", "limit"];

/** `GET /api/emergencies?orgId=&since=&until=&state=&limit=`: times are ISO-8601 with a zone; every bad one named. */
export function parseEmergencyQuery(query: Record<string, unknown>): ParseResult<EmergencyFilter> {
  const problems: FieldProblem[] = [];
  const filter: EmergencyFilter = { limit: DEFAULT_EMERGENCY_LIMIT };
  for (const key of Object.keys(query))
    if (!KNOWN.includes(key))
      problems.push({ field: key, reason: `is not a known filter (expected ${KNOWN.join(", ")})` });
  const text = (key: string): string | undefined => {
    const value = query[key];
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value === "") {
      problems.push({ field: key, reason: "must be given once, not empty" });
      return undefined;
    }
    return value;
  };
  const orgId = text("orgId");
  if (orgId !== undefined) filter.orgId = orgId;
  for (const key of ["since", "until"] as const) {
    const raw = text(key);
    if (raw === undefined) continue;
    const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(raw)
      ? Date.parse(raw)
      : NaN;
    if (Number.isFinite(at)) filter[key] = at;
    else
      problems.push({
        field: key,
        reason: "must be an ISO-8601 date-time with a time zone, such as 2026-11-27T09:00:00Z",
      });
  }
  if (filter.since !== undefined && filter.until !== undefined && filter.until <= filter.since)
    problems.push({ field: "until", reason: "must be later than since" });
  const state = text("state");
  if (state !== undefined) {
    if ((EMERGENCY_STATES as readonly string[]).includes(state)) filter.state = state as EmergencyState;
    else problems.push({ field: "state", reason: `must be one of ${EMERGENCY_STATES.join(", ")}` });
  }
  const limit = text("limit");
  if (limit !== undefined) {
    const n = /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
    if (n >= 1 && n <= MAX_EMERGENCY_LIMIT) filter.limit = n;
    else problems.push({ field: "limit", reason: `must be an integer from 1 to ${MAX_EMERGENCY_LIMIT}` });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: filter };
}
