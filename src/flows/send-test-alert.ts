// A channel's "send test" action: one synchronous attempt outside the outbox (no retries, no record), so an admin
// sees at once whether the channel works, and why not. A 410 is reported, not acted on: the admin is looking.
import type { ChannelDrivers } from "../core/alert-channel.ts";
import type { ChannelRepository, OrgDirectory } from "../core/alert-ports.ts";
import type { AlertMessage, ChannelSendResult } from "../core/alert.ts";
import type { Clock } from "../core/clock.ts";
import { RelayError } from "../core/errors.ts";

export interface TestSendResult {
  outcome: ChannelSendResult["outcome"];
  status: number | null;
  detail: string | null;
  retryAfterMs: number | null;
  latencyMs: number;
  messageId: string;
}

export interface TestAlertSenderDeps {
  channels: Pick<ChannelRepository, "withSecrets">;
  orgs: OrgDirectory;
  drivers: Pick<ChannelDrivers, "send">;
  clock: Clock;
  /** `testAlertMessage` from src/channels/test-alert-message.ts. */
  testMessage(now: number, org: { id: string; name: string } | null): AlertMessage;
}

export function createTestAlertSender(deps: TestAlertSenderDeps) {
  return {
    /** Throws ERR_NOT_FOUND when the channel is not the org's. Works on disabled channels (checking a fix). */
    async send(orgId: string, channelId: string): Promise<TestSendResult> {
      const found = await deps.channels.withSecrets(channelId);
      if (found === undefined || found.channel.orgId !== orgId)
        throw new RelayError("ERR_NOT_FOUND", `Channel ${channelId} not found in org ${orgId}`);
      const org = await deps.orgs.get(orgId);
      const message = deps.testMessage(deps.clock.now(), org ? { id: org.id, name: org.name } : null);
      const started = performance.now();
      const result = await deps.drivers.send(message, found.target, {});
      return {
        outcome: result.outcome,
        status: result.status,
        detail: result.detail ?? null,
        retryAfterMs: result.outcome === "retry" ? result.retryAfterMs : null,
        latencyMs: Math.round(performance.now() - started),
        messageId: message.id,
      };
    },
  };
}

export type TestAlertSender = ReturnType<typeof createTestAlertSender>;
