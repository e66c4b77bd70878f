import { EMERGENCY_STATES, type EmergencyFilter, type EmergencyState } from "./emergency-record.ts";
import type { FieldProblem } from "./validation-error.ts";

/** The history page's filters as typed, to fill the form again. */
export interface HistoryValues {
  orgId: string;
  state: string;
  from: string;
  to: string;
  type: string;
}

export interface HistoryQuery {
  values: HistoryValues;
  filter: Omit<EmergencyFilter, "limit">;
  problems: FieldProblem[];
}

const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const CURSOR = /^(\d{1,15})_(em_[0-9a-f]{16})$/;

/**
 * `/history?orgId=&state=&from=&to=&type=&before=` (and `/history.csv` with the same filters). Dates are whole
 * UTC days, `to` included. Empty fields mean "any"; a bad one is named in `problems` and left out of the filter.
 * `before` is the paging cursor `<detectedAt>_<id>` of the last row of the previous page.
 */
export function parseHistoryQuery(query: Record<string, unknown>): HistoryQuery {
  const text = (key: string): string => {
    const value = query[key];
    return typeof value === "string" ? value.trim() : "";
  };
  const values: HistoryValues = {
    orgId: text("orgId"),
    state: text("state"),
    from: text("from"),
    to: text("to"),
    type: text("type"),
  };
  const filter: Omit<EmergencyFilter, "limit"> = {};
  const problems: FieldProblem[] = [];
  if (values.orgId !== "") filter.orgId = values.orgId;
  if (values.state !== "") {
    if ((EMERGENCY_STATES as readonly string[]).includes(values.state))
      filter.state = values.state as EmergencyState;
    else problems.push({ field: "state", reason: `must be one of ${EMERGENCY_STATES.join(", ")}` });
  }
  if (values.type === "real" || values.type === "test") filter.isTest = values.type === "test";
  else if (values.type !== "" && values.type !== "all")
    problems.push({ field: "type", reason: "must be all, real or test" });
  const from = dayStart(values.from, "from", problems);
  const to = dayStart(values.to, "to", problems);
  if (from !== undefined) filter.since = from;
  if (to !== undefined) filter.until = to + DAY_MS;
  if (from !== undefined && to !== undefined && to < from) {
    problems.push({ field: "to", reason: "must not be before the from date" });
    delete filter.until;
  }
  const cursor = CURSOR.exec(text("before"));
  if (cursor) filter.before = { detectedAt: Number(cursor[1]), id: cursor[2]! };
  return { values, filter, problems };
}

/** The paging cursor after `row` (see `parseHistoryQuery`). */
export function historyCursor(row: { detectedAt: number; id: string }): string {
  return `${row.detectedAt}_${row.id}`;
}

function dayStart(raw: string, field: string, problems: FieldProblem[]): number | undefined {
  if (raw === "") return undefined;
  const match = DATE.exec(raw);
  const at = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN;
  // Date.UTC rolls 2026-02-31 over into March; a date that does not round-trip is not a date.
  if (!Number.isFinite(at) || new Date(at).toISOString().slice(0, 10) !== raw) {
    problems.push({ field, reason: "must be a date such as 2026-11-27" });
    return undefined;
  }
  return at;
}
