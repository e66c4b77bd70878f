import type { ChannelDefinition } from "./channel.ts";
import { ChannelInput } from "./channel-input.ts";
import type { OutboundHttp } from "./outbound-http.ts";
import { webexMessage } from "./webex-message.ts";

const FIELDS = ["roomId", "botToken"] as const;
const ROOM_ID = /^[A-Za-z0-9+/=_-]{8,512}$/;
const TOKEN = /^[A-Za-z0-9._~+/=-]{20,2048}$/;

/**
 * Webex through the Messages API with a bot's access token. Settings: `roomId` (the space; the bot must be a
 * member) and `botToken` (a secret). The base URL is the operator's `RELAY_WEBEX_BASE_URL`.
 */
export function createWebexChannel(deps: { http: OutboundHttp; baseUrl: string }): ChannelDefinition {
  return {
    type: "webex",

    parse(input, existing) {
      const fields = new ChannelInput(input, FIELDS, existing);
      const roomId = fields.requiredText("roomId", existing?.settings.roomId, (value) =>
        ROOM_ID.test(value) ? undefined : "must be a Webex room id (GET /rooms lists them)",
      );
      const botToken = fields.requiredText("botToken", existing?.secrets.botToken, (value) =>
        TOKEN.test(value) ? undefined : "must be the bot's access token (developer.webex.com, My Webex Apps)",
      );
      return fields.finish({ settings: { roomId: roomId ?? "" }, secrets: { botToken: botToken ?? "" } });
    },

    describe(record) {
      return { ...record.settings, hasBotToken: Boolean(record.secrets.botToken) };
    },

    async send(message, channel, context) {
      const roomId = channel.settings.roomId;
      const token = channel.secrets.botToken;
      if (typeof roomId !== "string" || !roomId || !token) {
        return { outcome: "failed", status: null, detail: "channel is missing its room id or bot token" };
      }
      const authorization = `Bearer ${token}`;
      return deps.http.post({
        url: `${deps.baseUrl.replace(/\/+$/, "")}/messages`,
        headers: { "content-type": "application/json", authorization },
        body: JSON.stringify(webexMessage(message, roomId)),
        secrets: [token, authorization],
        ...(context.signal ? { signal: context.signal } : {}),
      });
    },
  };
}
