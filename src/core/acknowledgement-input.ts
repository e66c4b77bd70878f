import type { ParseResult } from "./org-input.ts";
import type { FieldProblem } from "./validation-error.ts";

export const MAX_RESPONDER_NAME_LENGTH = 100;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]+/g;

/**
 * The name typed on the confirm page: optional and forgiving (a responder in a hurry must not meet a form
 * error), so control characters become spaces and the rest is cut to length. Empty means anonymous (null).
 */
export function responderNameFromForm(raw: unknown): string | null {
  if (typeof raw !== "string") return null;
  const name = raw
    .replace(CONTROL_CHARACTERS, " ")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, MAX_RESPONDER_NAME_LENGTH);
  return name === "" ? null : name;
}

/** `POST /api/emergencies/{id}/ack` `{by}`: who acknowledges, required for the record. */
export function parseAckBody(body: unknown): ParseResult<{ by: string }> {
  const fields =
    typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  if (fields === undefined)
    return { ok: false, problems: [{ field: "body", reason: "must be a JSON object with by" }] };
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(fields))
    if (key !== "by") problems.push({ field: key, reason: "is not a known field (expected by)" });
  const by = fields.by;
  if (
    typeof by !== "string" ||
    by.trim() === "" ||
    by.trim().length > MAX_RESPONDER_NAME_LENGTH ||
    /[\u0000-\u001f\u007f]/.test(by)
  )
    problems.push({
      field: "by",
      reason: `must be the responder's name, 1 to ${MAX_RESPONDER_NAME_LENGTH} characters on one line`,
    });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: { by: (by as string).trim() } };
}
