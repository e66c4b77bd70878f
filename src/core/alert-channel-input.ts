// The channel fields every type shares (type, name, enabled); the rest of the body is the type's own settings,
// which its `parse` checks (src/channels). Keeping the body flat lets a type's field names appear as sent.
import { CHANNEL_TYPES, type ChannelType } from "./alert.ts";
import type { ParseResult } from "./org-input.ts";
import type { FieldProblem } from "./validation-error.ts";

export interface ChannelCommonInput {
  type?: ChannelType;
  name?: string;
  enabled?: boolean;
  /** Everything else: the type's settings and secrets. */
  config: Record<string, unknown>;
}

const MAX_NAME_LENGTH = 200;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** Create: `type` and `name` required. Update: `type` cannot change (delete and create instead). */
export function parseChannelCommon(
  body: unknown,
  mode: "create" | "update",
): ParseResult<ChannelCommonInput> {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] };
  const { type, name, enabled, ...config } = body as Record<string, unknown>;
  const problems: FieldProblem[] = [];
  const value: ChannelCommonInput = { config };
  if (mode === "update") {
    if (type !== undefined)
      problems.push({ field: "type", reason: "cannot change; create a new channel instead" });
  } else if (typeof type === "string" && (CHANNEL_TYPES as readonly string[]).includes(type)) {
    value.type = type as ChannelType;
  } else {
    problems.push({
      field: "type",
      reason: `must be one of ${CHANNEL_TYPES.map((t) => `"${t}"`).join(", ")}`,
    });
  }
  if (name !== undefined || mode === "create") {
    if (
      typeof name !== "string" ||
      name.trim() === "" ||
      name.trim().length > MAX_NAME_LENGTH ||
      CONTROL_CHARACTERS.test(name.trim())
    )
      problems.push({
        field: "name",
        reason: `must be a string of 1 to ${MAX_NAME_LENGTH} characters without line breaks`,
      });
    else value.name = name.trim();
  }
  if (enabled !== undefined) {
    if (typeof enabled !== "boolean") problems.push({ field: "enabled", reason: "must be true or false" });
    else value.enabled = enabled;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value };
}
