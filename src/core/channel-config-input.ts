// The glue between a channel body's common fields (core/alert-channel-input.ts) and its type's own settings
// (the type's `parse`), shared by the admin API and the web app so both report the same problems.
import type { AlertPolicy } from "./alert-policy.ts";
import type { ParsedChannelConfig } from "./alert-channel.ts";
import { CHANNEL_TYPES, type ChannelType } from "./alert.ts";
import { RelayError } from "./errors.ts";
import { ValidationError, type FieldProblem } from "./validation-error.ts";

/** Runs a type's `parse` (which throws ValidationError); its problems join `problems`. */
export function parseChannelConfig(
  parse: () => ParsedChannelConfig,
  problems: FieldProblem[],
): ParsedChannelConfig | undefined {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ValidationError) {
      problems.push(...error.problems);
      return undefined;
    }
    throw error;
  }
}

/** The body's `type` when it is a known channel type. */
export function channelTypeOf(body: unknown): ChannelType | undefined {
  const type = (body as { type?: unknown } | null)?.type;
  return typeof type === "string" && (CHANNEL_TYPES as readonly string[]).includes(type)
    ? (type as ChannelType)
    : undefined;
}

/** The body without the common fields: the type's own settings. */
export function channelConfigOf(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return {};
  const { type: _type, name: _name, enabled: _enabled, ...rest } = body as Record<string, unknown>;
  return rest;
}

/** ERR_CHANNEL_IN_USE when a policy still routes to the channel (deleting it would drop recipients silently). */
export function channelInUseError(
  policies: readonly AlertPolicy[],
  channelId: string,
): RelayError | undefined {
  const users = policies.filter((p) => p.tiers.some((t) => t.channelIds.includes(channelId)));
  if (users.length === 0) return undefined;
  return new RelayError(
    "ERR_CHANNEL_IN_USE",
    `Channel ${channelId} is used by ${users.length === 1 ? "policy" : "policies"} ${users.map((p) => `"${p.name}" (${p.id})`).join(", ")}; remove it from them first`,
  );
}
