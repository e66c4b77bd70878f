// The one interface every alert channel implements, and what the registry needs to build them. The outbox,
// policies and the admin API use only this file; each channel's wire format stays in its own file.
import type { AlertMessage, ChannelSendResult, ChannelType } from "../core/alert.ts";

export { createChannelRegistry } from "./create-channel-registry.ts";

/** A configured channel as stored: `settings` are public, `secrets` are stored encrypted and never shown. */
export interface ChannelRecord {
  id: string;
  type: ChannelType;
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
}

export interface ChannelParseResult {
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
  /** Secrets the relay made (a webhook signing secret when none was given), to show once in the create response. */
  generatedSecrets?: Record<string, string>;
}

export interface ChannelSendContext {
  /** Aborts the attempt (shutdown); the result is then `retry`. */
  signal?: AbortSignal;
}

export interface ChannelDefinition {
  type: ChannelType;
  /**
   * Validates admin input: the channel's own fields only (unknown fields are rejected, so a typo is not silently
   * ignored). `existing` given on update: fields left out keep their values (secrets too); `null` clears an
   * optional field. Throws ValidationError naming every bad field (field names as the client sent them) and
   * changes nothing. Host names are not resolved here: literal addresses are checked now, names at send time.
   */
  parse(
    input: unknown,
    existing?: { settings: Record<string, unknown>; secrets: Record<string, string> },
  ): ChannelParseResult;
  /** Safe API view: settings plus e.g. `hasSigningSecret: true`, webhook URLs reduced to scheme and host. */
  describe(record: ChannelRecord): Record<string, unknown>;
  /** One attempt. Never throws: every failure is a result, and `detail` never contains a secret. */
  send(
    message: AlertMessage,
    channel: ChannelRecord,
    context: ChannelSendContext,
  ): Promise<ChannelSendResult>;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Every address a host name resolves to (A and AAAA), as `dns.promises.lookup(host, { all: true })`. */
export type HostLookup = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface ChannelRegistryOptions {
  /** `RELAY_ALLOW_PRIVATE_TARGETS`: allow http and private, loopback and link-local targets (local receivers). */
  allowPrivateTargets: boolean;
  /** `RELAY_WEBEX_BASE_URL`, e.g. `https://webexapis.com/v1`. */
  webexBaseUrl: string;
  /** `RELAY_TWILIO_BASE_URL`, e.g. `https://api.twilio.com`. */
  twilioBaseUrl: string;
  /** `RELAY_CHANNEL_TIMEOUT_MS`: the whole of one attempt (DNS, connect, TLS, request, response). */
  timeoutMs: number;
  /** Resolves host names; tests map names to local servers. Default: the system resolver. */
  lookup?: HostLookup;
  /** Extra CA certificates (PEM) trusted for outbound TLS besides the system ones: a private CA, tests. */
  extraCaPem?: string;
  /** Epoch ms; for the webhook timestamp and `Retry-After` dates. Default: `Date.now`. */
  now?: () => number;
}
