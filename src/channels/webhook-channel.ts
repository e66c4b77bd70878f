import type { ChannelDefinition } from "./channel.ts";
import { ChannelInput } from "./channel-input.ts";
import type { OutboundHttp } from "./outbound-http.ts";
import { parseOutboundUrl } from "./outbound-url.ts";
import { signWebhook } from "./sign-webhook.ts";
import { urlOrigin } from "./url-origin.ts";
import { webhookPayload } from "./webhook-payload.ts";
import { WEBHOOK_SECRET_FORM, generateWebhookSecret, webhookSecretKey } from "./webhook-secret.ts";

const FIELDS = ["url", "signingSecret"] as const;

/**
 * Generic webhook: a signed JSON POST (Standard Webhooks). Settings: `url` (stored as a secret, since such URLs
 * often carry a token) and `signingSecret` (`whsec_…`; generated and shown once when not given).
 */
export function createWebhookChannel(deps: {
  http: OutboundHttp;
  allowPrivateTargets: boolean;
  now: () => number;
}): ChannelDefinition {
  return {
    type: "webhook",

    parse(input, existing) {
      const fields = new ChannelInput(input, FIELDS, existing);
      const url = fields.requiredText("url", existing?.secrets.url, (value) => {
        const checked = parseOutboundUrl(value, deps.allowPrivateTargets);
        return checked.ok ? undefined : checked.reason;
      });
      let signingSecret = existing?.secrets.signingSecret;
      let generated: string | undefined;
      if (fields.has("signingSecret")) {
        signingSecret = fields.text("signingSecret", (value) =>
          webhookSecretKey(value) === null ? `must be ${WEBHOOK_SECRET_FORM}` : undefined,
        );
      } else if (signingSecret === undefined) {
        generated = generateWebhookSecret();
        signingSecret = generated;
      }
      return fields.finish({
        settings: {},
        secrets: { url: url ?? "", signingSecret: signingSecret ?? "" },
        ...(generated ? { generatedSecrets: { signingSecret: generated } } : {}),
      });
    },

    describe(record) {
      return {
        ...record.settings,
        urlOrigin: urlOrigin(record.secrets.url),
        hasSigningSecret: Boolean(record.secrets.signingSecret),
      };
    },

    async send(message, channel, context) {
      const { url, signingSecret } = channel.secrets;
      const key = signingSecret ? webhookSecretKey(signingSecret) : null;
      if (!url || key === null) {
        return { outcome: "failed", status: null, detail: "channel is missing its url or signing secret" };
      }
      const body = JSON.stringify(webhookPayload(message));
      // A new timestamp and signature per attempt, the same id: receivers dedupe on webhook-id and reject stale
      // timestamps (the reference library allows ±5 minutes).
      const timestamp = Math.floor(deps.now() / 1000);
      return deps.http.post({
        url,
        headers: {
          "content-type": "application/json",
          "webhook-id": message.id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": signWebhook(key, message.id, timestamp, body),
        },
        body,
        secrets: [url, signingSecret!],
        ...(context.signal ? { signal: context.signal } : {}),
      });
    },
  };
}
