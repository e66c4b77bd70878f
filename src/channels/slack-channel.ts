import type { ChannelDefinition } from "./channel.ts";
import type { OutboundHttp } from "./outbound-http.ts";
import { slackMessage } from "./slack-message.ts";
import { createWebhookUrlChannel } from "./webhook-url-channel.ts";

/**
 * Slack through an incoming webhook; setting: `url` (a secret: `https://hooks.slack.com/services/…` is the
 * credential). Slack answers 200 "ok"; a removed or archived channel answers 404 or 410 (410 disables this
 * channel in the relay too).
 */
export function createSlackChannel(deps: {
  http: OutboundHttp;
  allowPrivateTargets: boolean;
}): ChannelDefinition {
  return createWebhookUrlChannel({ type: "slack", format: slackMessage, ...deps });
}
