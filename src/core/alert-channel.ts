// A configured alert channel of an org (a webhook URL, an SMTP server and recipients, a Slack webhook ...).
// Settings are shown to admins; secrets (signing keys, passwords, tokens) stay sealed in storage and reach
// nothing but the channel's `send`.
import type { AlertMessage, ChannelSendResult, ChannelType } from "./alert.ts";

export interface AlertChannel {
  id: string;
  orgId: string;
  type: ChannelType;
  name: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  /** Why the relay disabled it (HTTP 410 from the receiver), or null. */
  disabledReason: string | null;
  createdAt: number;
  updatedAt: number;
}

/** What a channel's `send` gets: the stored settings and the opened secrets. */
export interface ChannelTarget {
  id: string;
  type: ChannelType;
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
}

/** A channel's configuration as validated by its type (`parse`), ready to store. */
export interface ParsedChannelConfig {
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
  /** Secrets the relay generated (a webhook signing key): returned once, in the create response. */
  generatedSecrets?: Record<string, string>;
}

/**
 * The channel implementations as the alerting flows and routes need them (src/channels adapts to this).
 * `parse` throws ValidationError naming every bad field; `describe` is the safe view (no secrets).
 */
export interface ChannelDrivers {
  parse(
    type: ChannelType,
    input: unknown,
    existing?: { settings: Record<string, unknown>; secrets: Record<string, string> },
  ): ParsedChannelConfig;
  describe(target: ChannelTarget): Record<string, unknown>;
  send(
    message: AlertMessage,
    target: ChannelTarget,
    options: { signal?: AbortSignal },
  ): Promise<ChannelSendResult>;
}
