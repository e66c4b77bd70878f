// Parsing of the admin API's policy bodies. Every bad field is reported at once with its path
// (`tiers[1].channelIds[0]`); the whole policy is checked after a PATCH is merged, so no change can leave a
// policy that routes nowhere or escalates backwards.
import {
  CALL_TYPES,
  LOCATION_FIELDS,
  POLICY_KINDS,
  compileLocationPattern,
  type AlertPolicy,
  type CallType,
  type EscalationTier,
  type LocationField,
  type LocationMatch,
  type PolicyKind,
  type RepeatSettings,
  type RetrySettings,
} from "./alert-policy.ts";
import type { ParseResult } from "./org-input.ts";
import { RETRY_BOUNDS } from "./outbox-retry-policy.ts";
import type { FieldProblem } from "./validation-error.ts";

/** A policy's fields as the admin sets them; the store adds id, org and times. */
export type PolicyInput = Omit<AlertPolicy, "id" | "orgId" | "createdAt" | "updatedAt">;

export const MAX_TIERS = 10;
export const MAX_CHANNELS_PER_TIER = 20;
export const MAX_TIER_DELAY_SECONDS = 7 * 86_400;
export const REPEAT_BOUNDS = { everySeconds: { min: 30, max: 86_400 }, times: { min: 1, max: 20 } } as const;
export const DEFAULT_PRIORITY = 100;
const MAX_NAME_LENGTH = 200;
const MAX_MATCH_LENGTH = 200;

const FIELDS = [
  "name",
  "kind",
  "callType",
  "locationMatch",
  "priority",
  "enabled",
  "tiers",
  "retry",
] as const;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
// A repeated group that itself repeats without bound, "(a+)+": catastrophic backtracking on a long location.
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[+*]|\{\d+,\})(?:[^()\\]|\\.)*\)(?:[+*]|\{\d+,\})/;

/**
 * `POST /api/org/{orgId}/policies`. `knownChannelIds`: the org's channels; tiers may name no others. Defaults:
 * kind `emergency`, callType `real` (`any` for operations), priority 100, enabled, no location match, default
 * retries.
 */
export function parsePolicyInput(
  body: unknown,
  knownChannelIds: ReadonlySet<string>,
): ParseResult<PolicyInput> {
  const fields = objectBody(body);
  if (fields === undefined) return notAnObject();
  const problems: FieldProblem[] = [];
  rejectUnknown(fields, problems);
  for (const field of ["name", "tiers"] as const)
    if (fields[field] === undefined) problems.push({ field, reason: "is required" });
  const kind = fields.kind === undefined ? "emergency" : fields.kind;
  const merged: Record<string, unknown> = {
    kind,
    callType: kind === "operations" ? "any" : "real",
    locationMatch: null,
    priority: DEFAULT_PRIORITY,
    enabled: true,
    retry: null,
    ...definedOnly(fields),
  };
  return collect(merged, knownChannelIds, problems);
}

/** `PATCH /api/org/{orgId}/policies/{id}`: any subset, merged onto `current` and checked whole. */
export function parsePolicyPatch(
  body: unknown,
  current: PolicyInput,
  knownChannelIds: ReadonlySet<string>,
): ParseResult<PolicyInput> {
  const fields = objectBody(body);
  if (fields === undefined) return notAnObject();
  const problems: FieldProblem[] = [];
  rejectUnknown(fields, problems);
  return collect({ ...current, ...definedOnly(fields) }, knownChannelIds, problems);
}

function collect(
  fields: Record<string, unknown>,
  knownChannelIds: ReadonlySet<string>,
  problems: FieldProblem[],
): ParseResult<PolicyInput> {
  const name = parseName(fields.name, problems);
  const kind = oneOf<PolicyKind>(fields.kind, POLICY_KINDS, "kind", problems);
  const callType = oneOf<CallType>(fields.callType, CALL_TYPES, "callType", problems);
  const locationMatch = parseLocationMatch(fields.locationMatch, problems);
  const priority = integer(fields.priority, "priority", 0, 10_000, problems);
  const enabled = boolean(fields.enabled, "enabled", problems);
  const tiers = parseTiers(fields.tiers, knownChannelIds, problems);
  const retry = parseRetry(fields.retry, problems);
  if (kind === "operations") {
    if (callType !== undefined && callType !== "any")
      problems.push({ field: "callType", reason: 'must be "any" (or left out) for an operations policy' });
    if (locationMatch)
      problems.push({ field: "locationMatch", reason: "must be null for an operations policy" });
    if (tiers && tiers.length > 1)
      problems.push({
        field: "tiers",
        reason: "must have exactly one tier for an operations policy (no escalation)",
      });
    if (tiers?.[0]?.repeat)
      problems.push({ field: "tiers[0].repeat", reason: "must be null for an operations policy" });
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: {
      name: name!,
      kind: kind!,
      callType: callType!,
      locationMatch: locationMatch ?? null,
      priority: priority!,
      enabled: enabled!,
      tiers: tiers!,
      retry: retry ?? null,
    },
  };
}

function parseTiers(
  raw: unknown,
  knownChannelIds: ReadonlySet<string>,
  problems: FieldProblem[],
): EscalationTier[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_TIERS) {
    problems.push({ field: "tiers", reason: `must be a list of 1 to ${MAX_TIERS} tiers` });
    return undefined;
  }
  const before = problems.length;
  const tiers: EscalationTier[] = [];
  let previousAfter: number | undefined;
  raw.forEach((tierRaw: unknown, t) => {
    const at = `tiers[${t}]`;
    const tier = objectBody(tierRaw);
    if (tier === undefined) {
      problems.push({ field: at, reason: "must be an object with afterSeconds, channelIds and repeat" });
      return;
    }
    for (const key of Object.keys(tier))
      if (!["afterSeconds", "channelIds", "repeat"].includes(key))
        problems.push({
          field: `${at}.${key}`,
          reason: "is not a known field (expected afterSeconds, channelIds, repeat)",
        });
    const afterSeconds = integer(
      tier.afterSeconds ?? 0,
      `${at}.afterSeconds`,
      0,
      MAX_TIER_DELAY_SECONDS,
      problems,
    );
    if (t === 0 && afterSeconds !== undefined && afterSeconds !== 0)
      problems.push({ field: `${at}.afterSeconds`, reason: "must be 0: the first tier is notified at once" });
    if (t > 0 && previousAfter !== undefined && afterSeconds !== undefined && afterSeconds <= previousAfter)
      problems.push({
        field: `${at}.afterSeconds`,
        reason:
          "must be greater than the previous tier's (seconds after the call, not after the previous tier)",
      });
    previousAfter = afterSeconds;
    const channelIds = parseChannelIds(tier.channelIds, `${at}.channelIds`, knownChannelIds, problems);
    const repeat = parseRepeat(tier.repeat ?? null, `${at}.repeat`, problems);
    if (afterSeconds !== undefined && channelIds !== undefined && repeat !== undefined)
      tiers.push({ afterSeconds, channelIds, repeat });
  });
  return problems.length > before ? undefined : tiers;
}

function parseChannelIds(
  raw: unknown,
  field: string,
  knownChannelIds: ReadonlySet<string>,
  problems: FieldProblem[],
): string[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_CHANNELS_PER_TIER) {
    problems.push({
      field,
      reason: `must be a list of 1 to ${MAX_CHANNELS_PER_TIER} channel ids of this org`,
    });
    return undefined;
  }
  const before = problems.length;
  raw.forEach((id: unknown, i) => {
    if (typeof id !== "string" || !knownChannelIds.has(id))
      problems.push({
        field: `${field}[${i}]`,
        reason: "is not a channel of this org (GET .../channels lists them)",
      });
    else if (raw.indexOf(id) !== i)
      problems.push({ field: `${field}[${i}]`, reason: "repeats an earlier channel" });
  });
  return problems.length > before ? undefined : (raw as string[]);
}

function parseRepeat(
  raw: unknown,
  field: string,
  problems: FieldProblem[],
): RepeatSettings | null | undefined {
  if (raw === null) return null;
  const repeat = objectBody(raw);
  if (repeat === undefined) {
    problems.push({ field, reason: "must be null or an object with everySeconds and times" });
    return undefined;
  }
  for (const key of Object.keys(repeat))
    if (key !== "everySeconds" && key !== "times")
      problems.push({
        field: `${field}.${key}`,
        reason: "is not a known field (expected everySeconds, times)",
      });
  const { everySeconds: every, times: count } = REPEAT_BOUNDS;
  const everySeconds = integer(repeat.everySeconds, `${field}.everySeconds`, every.min, every.max, problems);
  const times = integer(repeat.times, `${field}.times`, count.min, count.max, problems);
  return everySeconds === undefined || times === undefined ? undefined : { everySeconds, times };
}

function parseRetry(raw: unknown, problems: FieldProblem[]): RetrySettings | null | undefined {
  if (raw === null || raw === undefined) return null;
  const retry = objectBody(raw);
  if (retry === undefined) {
    problems.push({ field: "retry", reason: "must be null or an object with maxAttempts and windowSeconds" });
    return undefined;
  }
  for (const key of Object.keys(retry))
    if (key !== "maxAttempts" && key !== "windowSeconds")
      problems.push({
        field: `retry.${key}`,
        reason: "is not a known field (expected maxAttempts, windowSeconds)",
      });
  const { maxAttempts: a, windowSeconds: w } = RETRY_BOUNDS;
  const maxAttempts = integer(retry.maxAttempts, "retry.maxAttempts", a.min, a.max, problems);
  const windowSeconds = integer(retry.windowSeconds, "retry.windowSeconds", w.min, w.max, problems);
  return maxAttempts === undefined || windowSeconds === undefined
    ? undefined
    : { maxAttempts, windowSeconds };
}

function parseLocationMatch(raw: unknown, problems: FieldProblem[]): LocationMatch | null | undefined {
  if (raw === null || raw === undefined) return null;
  const match = objectBody(raw);
  if (match === undefined) {
    problems.push({ field: "locationMatch", reason: "must be null or an object with type, value and field" });
    return undefined;
  }
  for (const key of Object.keys(match))
    if (!["field", "type", "value"].includes(key))
      problems.push({
        field: `locationMatch.${key}`,
        reason: "is not a known field (expected field, type, value)",
      });
  const field = oneOf<LocationField>(match.field ?? "any", LOCATION_FIELDS, "locationMatch.field", problems);
  const type = oneOf<"substring" | "pattern">(
    match.type,
    ["substring", "pattern"],
    "locationMatch.type",
    problems,
  );
  const value = match.value;
  if (typeof value !== "string" || value.trim() === "" || value.length > MAX_MATCH_LENGTH) {
    problems.push({
      field: "locationMatch.value",
      reason: `must be a non-empty string of at most ${MAX_MATCH_LENGTH} characters`,
    });
    return undefined;
  }
  if (type === "pattern") {
    if (compileLocationPattern(value) === undefined) {
      problems.push({ field: "locationMatch.value", reason: "is not a valid JavaScript regular expression" });
      return undefined;
    }
    if (NESTED_QUANTIFIER.test(value)) {
      problems.push({
        field: "locationMatch.value",
        reason:
          'must not repeat a group that itself repeats without bound, such as "(a+)+" (it can hang on long text)',
      });
      return undefined;
    }
  }
  return field === undefined || type === undefined
    ? undefined
    : { field, type, value: type === "substring" ? value.trim() : value };
}

function parseName(raw: unknown, problems: FieldProblem[]): string | undefined {
  if (raw === undefined) return undefined;
  const reason = `must be a string of 1 to ${MAX_NAME_LENGTH} characters without line breaks`;
  if (
    typeof raw !== "string" ||
    raw.trim() === "" ||
    raw.trim().length > MAX_NAME_LENGTH ||
    CONTROL_CHARACTERS.test(raw.trim())
  ) {
    problems.push({ field: "name", reason });
    return undefined;
  }
  return raw.trim();
}

function oneOf<T extends string>(
  raw: unknown,
  allowed: readonly T[],
  field: string,
  problems: FieldProblem[],
): T | undefined {
  if (typeof raw === "string" && (allowed as readonly string[]).includes(raw)) return raw as T;
  problems.push({ field, reason: `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}` });
  return undefined;
}

function integer(
  raw: unknown,
  field: string,
  min: number,
  max: number,
  problems: FieldProblem[],
): number | undefined {
  if (typeof raw === "number" && Number.isInteger(raw) && raw >= min && raw <= max) return raw;
  problems.push({ field, reason: `must be an integer from ${min} to ${max}` });
  return undefined;
}

function boolean(raw: unknown, field: string, problems: FieldProblem[]): boolean | undefined {
  if (typeof raw === "boolean") return raw;
  problems.push({ field, reason: "must be true or false" });
  return undefined;
}

function rejectUnknown(fields: Record<string, unknown>, problems: FieldProblem[]): void {
  for (const field of Object.keys(fields))
    if (!(FIELDS as readonly string[]).includes(field))
      problems.push({ field, reason: `is not a known field (expected ${FIELDS.join(", ")})` });
}

function definedOnly(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).filter(
      ([key, value]) => value !== undefined && (FIELDS as readonly string[]).includes(key),
    ),
  );
}

function objectBody(body: unknown): Record<string, unknown> | undefined {
  return typeof body === "object" && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined;
}

function notAnObject(): { ok: false; problems: FieldProblem[] } {
  return { ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] };
}
