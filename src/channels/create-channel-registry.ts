import type { ChannelType } from "../core/alert.ts";
import type { ChannelDefinition, ChannelRegistryOptions } from "./channel.ts";
import { createEmailChannel } from "./email-channel.ts";
import { createOutboundHttp } from "./outbound-http.ts";
import { systemLookup } from "./resolve-outbound-target.ts";
import { createSlackChannel } from "./slack-channel.ts";
import { createSmsChannel } from "./sms-channel.ts";
import { createTeamsChannel } from "./teams-channel.ts";
import { createWebexChannel } from "./webex-channel.ts";
import { createWebhookChannel } from "./webhook-channel.ts";

/** Every channel type, built once with the operator's settings; `main.ts` makes one and hands it to the flows. */
export function createChannelRegistry(
  options: ChannelRegistryOptions,
): Record<ChannelType, ChannelDefinition> {
  const now = options.now ?? Date.now;
  const lookup = options.lookup ?? systemLookup;
  const { allowPrivateTargets, timeoutMs, extraCaPem } = options;
  const http = createOutboundHttp({
    allowPrivateTargets,
    timeoutMs,
    lookup,
    now,
    ...(extraCaPem ? { extraCaPem } : {}),
  });
  return {
    webhook: createWebhookChannel({ http, allowPrivateTargets, now }),
    email: createEmailChannel({
      allowPrivateTargets,
      timeoutMs,
      lookup,
      ...(extraCaPem ? { extraCaPem } : {}),
    }),
    teams: createTeamsChannel({ http, allowPrivateTargets }),
    slack: createSlackChannel({ http, allowPrivateTargets }),
    webex: createWebexChannel({ http, baseUrl: options.webexBaseUrl }),
    sms: createSmsChannel({ http, baseUrl: options.twilioBaseUrl }),
  };
}
