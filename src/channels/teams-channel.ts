import type { ChannelDefinition } from "./channel.ts";
import type { OutboundHttp } from "./outbound-http.ts";
import { teamsCardMessage } from "./teams-card.ts";
import { createWebhookUrlChannel } from "./webhook-url-channel.ts";

/**
 * Microsoft Teams through a Workflows webhook ("Send webhook alerts to a chat or channel") or a legacy incoming
 * webhook; setting: `url` (a secret: the URL carries its own signature). Workflows answer 202 Accepted and post
 * the card asynchronously, so "delivered" means Power Automate took it.
 */
export function createTeamsChannel(deps: {
  http: OutboundHttp;
  allowPrivateTargets: boolean;
}): ChannelDefinition {
  return createWebhookUrlChannel({ type: "teams", format: teamsCardMessage, ...deps });
}
