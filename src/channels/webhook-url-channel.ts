import type { AlertMessage } from "../core/alert.ts";
import type { ChannelDefinition } from "./channel.ts";
import { ChannelInput } from "./channel-input.ts";
import type { OutboundHttp } from "./outbound-http.ts";
import { parseOutboundUrl } from "./outbound-url.ts";
import { urlOrigin } from "./url-origin.ts";

/**
 * A channel whose only setting is a webhook URL that is itself the credential (Slack incoming webhooks, Teams
 * Workflows): `url` is stored as a secret and shown as its origin only.
 */
export function createWebhookUrlChannel(deps: {
  type: "teams" | "slack";
  http: OutboundHttp;
  allowPrivateTargets: boolean;
  format: (message: AlertMessage) => Record<string, unknown>;
}): ChannelDefinition {
  return {
    type: deps.type,

    parse(input, existing) {
      const fields = new ChannelInput(input, ["url"], existing);
      const url = fields.requiredText("url", existing?.secrets.url, (value) => {
        const checked = parseOutboundUrl(value, deps.allowPrivateTargets);
        return checked.ok ? undefined : checked.reason;
      });
      return fields.finish({ settings: {}, secrets: { url: url ?? "" } });
    },

    describe(record) {
      return {
        ...record.settings,
        urlOrigin: urlOrigin(record.secrets.url),
        hasUrl: Boolean(record.secrets.url),
      };
    },

    async send(message, channel, context) {
      const url = channel.secrets.url;
      if (!url) return { outcome: "failed", status: null, detail: "channel is missing its url" };
      return deps.http.post({
        url,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(deps.format(message)),
        secrets: [url],
        ...(context.signal ? { signal: context.signal } : {}),
      });
    },
  };
}
