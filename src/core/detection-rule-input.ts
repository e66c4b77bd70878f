import { DEFAULT_RULE, PATTERN_FLAGS } from "./detect-emergency.ts";
import type { DetectionRule } from "./emergency.ts";
import type { ParseResult } from "./org-input.ts";
import type { FieldProblem } from "./validation-error.ts";

// Parsing of per-org detection rules (admin API bodies, `parse --rules` files). Rules run on the message's plain
// text only (tags removed, entities decoded, quoted replies left out), never on its HTML, and on at most
// MAX_RULE_TEXT_LENGTH characters of it. A pattern is a JavaScript regular expression compiled with the flags
// "imu"; its named groups `caller`, `dialString` and `location` fill those fields. Reasons never repeat a value.

/** A rule as the admin writes it; the store adds the id. */
export interface DetectionRuleInput {
  name: string;
  kind: DetectionRule["kind"];
  value: string;
  marksTest: boolean;
}

export const MAX_RULE_NAME_LENGTH = 100;
export const MAX_RULE_VALUE_LENGTH = 500;
export const MIN_PHRASE_LENGTH = 4;
export const MAX_RULES_PER_ORG = 50;
export const RULE_GROUP_NAMES: readonly string[] = ["caller", "dialString", "location"];

const FIELDS = ["name", "kind", "value", "marksTest"] as const;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
// A repeated group that itself repeats without bound, "(a+)+" or "(\w*\s)*": the classic catastrophic
// backtracking shape. Bounded repeats ("{0,5}") are allowed.
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[+*]|\{\d+,\})(?:[^()\\]|\\.)*\)(?:[+*]|\{\d+,\})/;
// A rule that fires on these would turn ordinary chat into alerts.
const ORDINARY_SAMPLES = ["", "ok", "Hello, lunch at 12?", "Thanks!"];

/** `POST /api/org/{orgId}/detection-rules`: `name`, `kind` ("phrase" | "pattern"), `value`, `marksTest`. */
export function parseDetectionRuleInput(body: unknown): ParseResult<DetectionRuleInput> {
  const fields = objectBody(body);
  if (fields === undefined)
    return { ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] };
  const problems: FieldProblem[] = [];
  rejectUnknown(fields, problems);
  for (const field of ["name", "kind", "value"] as const)
    if (fields[field] === undefined) problems.push({ field, reason: "is required" });
  const value = collect(fields, problems);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { marksTest: false, ...value } as DetectionRuleInput };
}

/**
 * `PATCH /api/org/{orgId}/detection-rules/{ruleId}`: any subset of the fields, merged onto `current` and checked
 * whole (a new `kind` re-checks the stored `value`). Returns the rule as it would be after the change.
 */
export function parseDetectionRulePatch(
  body: unknown,
  current: DetectionRuleInput,
): ParseResult<DetectionRuleInput> {
  const fields = objectBody(body);
  if (fields === undefined)
    return { ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] };
  const problems: FieldProblem[] = [];
  rejectUnknown(fields, problems);
  const merged = { ...current, ...fields };
  const value = collect(merged, problems, new Set(Object.keys(fields)));
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { ...current, ...value } };
}

/** Why `value` is not a usable rule of `kind`, or undefined when it is. */
export function checkRuleValue(kind: DetectionRule["kind"], value: string): string | undefined {
  if (value.length === 0 || value.length > MAX_RULE_VALUE_LENGTH)
    return `must be 1 to ${MAX_RULE_VALUE_LENGTH} characters`;
  return kind === "phrase" ? checkPhrase(value) : checkPattern(value);
}

function collect(
  fields: Record<string, unknown>,
  problems: FieldProblem[],
  reported: ReadonlySet<string> = new Set(FIELDS),
): Partial<DetectionRuleInput> {
  const value: Partial<DetectionRuleInput> = {};
  // A stored field that became invalid through another field's change is reported under `value`.
  const report = (field: string, reason: string) =>
    problems.push({ field: reported.has(field) ? field : "value", reason });
  if (fields.name !== undefined) {
    const name = typeof fields.name === "string" ? fields.name.trim() : "";
    if (name.length === 0 || name.length > MAX_RULE_NAME_LENGTH)
      report("name", `must be a string of 1 to ${MAX_RULE_NAME_LENGTH} characters`);
    else if (CONTROL_CHARACTERS.test(name))
      report("name", "must not contain control characters (line breaks, tabs)");
    else value.name = name;
  }
  if (fields.kind !== undefined) {
    if (fields.kind === "phrase" || fields.kind === "pattern") value.kind = fields.kind;
    else report("kind", 'must be "phrase" (words to look for) or "pattern" (a regular expression)');
  }
  if (fields.marksTest !== undefined) {
    if (typeof fields.marksTest === "boolean") value.marksTest = fields.marksTest;
    else report("marksTest", "must be true or false");
  }
  if (fields.value !== undefined) {
    if (typeof fields.value !== "string") {
      report("value", "must be a string");
    } else if (value.kind !== undefined) {
      const normalized = value.kind === "phrase" ? fields.value.trim().replace(/\s+/g, " ") : fields.value;
      const reason = checkRuleValue(value.kind, normalized);
      if (reason !== undefined) problems.push({ field: "value", reason });
      else value.value = normalized;
    }
  }
  return value;
}

function checkPhrase(phrase: string): string | undefined {
  if (phrase.length < MIN_PHRASE_LENGTH || !/\p{L}/u.test(phrase))
    return `must be at least ${MIN_PHRASE_LENGTH} characters with at least one letter`;
  if (CONTROL_CHARACTERS.test(phrase)) return "must be one line without control characters";
  if (phrase.toLowerCase() === DEFAULT_RULE.value.toLowerCase())
    return "is the built-in rule's phrase; every org has that rule already";
  return undefined;
}

function checkPattern(source: string): string | undefined {
  let pattern: RegExp;
  try {
    pattern = new RegExp(source, PATTERN_FLAGS);
  } catch {
    return `must be a valid JavaScript regular expression (compiled with the flags "${PATTERN_FLAGS}")`;
  }
  for (const match of source.matchAll(/\(\?<([^>=!]+)>/g)) {
    if (!RULE_GROUP_NAMES.includes(match[1]!))
      return `may only name the groups ${RULE_GROUP_NAMES.join(", ")}; use (?:…) for other groups`;
  }
  if (NESTED_QUANTIFIER.test(source))
    return "must not repeat a group that itself repeats without bound, such as (a+)+: that can take exponential time";
  if (ORDINARY_SAMPLES.some((sample) => pattern.test(sample)))
    return 'matches ordinary chat (empty text, "ok", "Thanks!"), so it would turn every message into an alert';
  return undefined;
}

function objectBody(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  return body as Record<string, unknown>;
}

function rejectUnknown(fields: Record<string, unknown>, problems: FieldProblem[]): void {
  for (const field of Object.keys(fields)) {
    if (!(FIELDS as readonly string[]).includes(field))
      problems.push({ field, reason: `is not a known field (expected ${FIELDS.join(", ")})` });
  }
}
