import type { ParseResult } from "./org-input.ts";
import type { FieldProblem } from "./validation-error.ts";

export const MAX_NOTE_LENGTH = 2000;
const MAX_BY_LENGTH = 100;

/** A note on an emergency's timeline: `{text, by?}` from the admin API, or the web app's note form. */
export function parseNoteBody(body: unknown): ParseResult<{ text: string; by: string | null }> {
  const fields =
    typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  const text = fields?.text;
  const problems: FieldProblem[] = [];
  if (typeof text !== "string" || text.trim() === "" || text.length > MAX_NOTE_LENGTH)
    problems.push({
      field: "text",
      reason: `must be a non-empty string of at most ${MAX_NOTE_LENGTH} characters`,
    });
  for (const key of Object.keys(fields ?? {}))
    if (key !== "text" && key !== "by")
      problems.push({ field: key, reason: "is not a known field (expected text, by)" });
  const by = fields?.by;
  if (by !== undefined && (typeof by !== "string" || by.length > MAX_BY_LENGTH))
    problems.push({ field: "by", reason: `must be a string of at most ${MAX_BY_LENGTH} characters` });
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: {
      text: (text as string).trim(),
      by: typeof by === "string" && by.trim() !== "" ? by.trim() : null,
    },
  };
}
