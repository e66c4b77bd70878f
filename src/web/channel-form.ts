import type { AlertChannel } from "../core/alert-channel.ts";
import type { ChannelType } from "../core/alert.ts";

/** One setting of a channel type as the web form shows it; the type's `parse` (src/channels) checks it. */
export interface ChannelFieldSpec {
  name: string;
  label: string;
  /** `secret`: write-only, never rendered back; blank keeps the stored value. `list`: one entry per line. */
  kind: "text" | "secret" | "number" | "list" | "select";
  required?: boolean;
  /** An optional setting that an emptied field clears (the others keep their form value, and say why not). */
  clearable?: boolean;
  hint?: string;
  options?: readonly string[];
  /** Secrets that are URLs are typed as text; the others as passwords. */
  secretUrl?: boolean;
}

export const CHANNEL_TYPE_LABELS: Readonly<Record<ChannelType, string>> = {
  webhook: "Webhook (signed JSON)",
  email: "Email (SMTP)",
  teams: "Microsoft Teams (Workflows)",
  slack: "Slack",
  webex: "Webex",
  sms: "SMS (Twilio)",
};

export const CHANNEL_FIELDS: Readonly<Record<ChannelType, readonly ChannelFieldSpec[]>> = {
  webhook: [
    {
      name: "url",
      label: "Webhook URL",
      kind: "secret",
      secretUrl: true,
      required: true,
      hint: "https only. Kept encrypted and never shown again: such URLs often carry a token.",
    },
    {
      name: "signingSecret",
      label: "Signing secret",
      kind: "secret",
      hint: "whsec_ followed by base64 (Standard Webhooks). Leave blank on a new channel to have one generated and shown once.",
    },
  ],
  email: [
    { name: "host", label: "SMTP server", kind: "text", required: true, hint: "Host name or IP address." },
    {
      name: "security",
      label: "Security",
      kind: "select",
      options: ["starttls", "tls", "none"],
      hint: "starttls (port 587), tls (port 465) or none (port 25, no password allowed).",
    },
    { name: "port", label: "Port", kind: "number", hint: "Leave blank for the security's usual port." },
    {
      name: "username",
      label: "Username",
      kind: "text",
      clearable: true,
      hint: "Only when the server needs a sign-in.",
    },
    { name: "password", label: "Password", kind: "secret", hint: "Needs a username and tls or starttls." },
    { name: "from", label: "From address", kind: "text", required: true },
    {
      name: "to",
      label: "Recipients",
      kind: "list",
      required: true,
      hint: "One address per line (at most 50).",
    },
  ],
  teams: [
    {
      name: "url",
      label: "Workflows webhook URL",
      kind: "secret",
      secretUrl: true,
      required: true,
      hint: 'The URL of a "When a Teams webhook request is received" workflow (or a legacy incoming webhook).',
    },
  ],
  slack: [
    {
      name: "url",
      label: "Incoming webhook URL",
      kind: "secret",
      secretUrl: true,
      required: true,
      hint: "https://hooks.slack.com/services/…",
    },
  ],
  webex: [
    { name: "roomId", label: "Room id", kind: "text", required: true },
    {
      name: "botToken",
      label: "Bot access token",
      kind: "secret",
      required: true,
      hint: "The bot must be in the room.",
    },
  ],
  sms: [
    {
      name: "accountSid",
      label: "Account SID",
      kind: "text",
      required: true,
      hint: "AC followed by 32 hex digits.",
    },
    { name: "authToken", label: "Auth token", kind: "secret", required: true },
    {
      name: "from",
      label: "From",
      kind: "text",
      clearable: true,
      hint: "A Twilio number (+15551234567) or an alphanumeric sender id; or give a Messaging Service SID instead.",
    },
    { name: "messagingServiceSid", label: "Messaging Service SID", kind: "text", clearable: true },
    {
      name: "to",
      label: "Phone numbers",
      kind: "list",
      required: true,
      hint: "E.164, one per line (at most 20).",
    },
  ],
};

/**
 * The form as the admin API's channel body, so the same parsers give the same messages. Create: empty fields
 * are left out (a required one is then "required"; a webhook secret is generated). Update: an empty secret
 * keeps the stored one, an emptied optional setting is cleared, an emptied required one is refused.
 */
export function channelBodyFromForm(
  type: ChannelType,
  form: Record<string, string>,
  mode: "create" | "update",
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: form.name ?? "",
    enabled: form.enabled === "on",
  };
  if (mode === "create") body.type = type;
  for (const spec of CHANNEL_FIELDS[type]) {
    const raw = form[spec.name] ?? "";
    const blank = raw.trim() === "";
    // A select always posts a value; none means the field was not on the form, so the stored value stays.
    if (blank && (spec.kind === "secret" || spec.kind === "select" || mode === "create")) continue;
    if (blank) {
      body[spec.name] = spec.clearable || spec.kind === "number" ? null : spec.kind === "list" ? [] : "";
      continue;
    }
    if (spec.kind === "number") body[spec.name] = /^\d{1,6}$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    else if (spec.kind === "list")
      body[spec.name] = raw
        .split(/[\n,;]+/)
        .map((entry) => entry.trim())
        .filter((entry) => entry !== "");
    else body[spec.name] = raw;
  }
  return body;
}

/** A stored channel's public settings as form values (lists one per line); secrets are never included. */
export function channelFormValues(channel: AlertChannel): Record<string, string> {
  const values: Record<string, string> = { name: channel.name, enabled: channel.enabled ? "on" : "" };
  for (const spec of CHANNEL_FIELDS[channel.type]) {
    if (spec.kind === "secret") continue;
    const stored = channel.settings[spec.name];
    if (Array.isArray(stored)) values[spec.name] = stored.join("\n");
    else if (typeof stored === "string" || typeof stored === "number") values[spec.name] = String(stored);
  }
  return values;
}

/** What the admin typed, minus the secrets: a form shown again after a problem never carries them. */
export function withoutSecrets(type: ChannelType, form: Record<string, string>): Record<string, string> {
  const secret = new Set(CHANNEL_FIELDS[type].filter((s) => s.kind === "secret").map((s) => s.name));
  return Object.fromEntries(Object.entries(form).filter(([name]) => !secret.has(name) && name !== "_csrf"));
}
