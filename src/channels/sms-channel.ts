import type { ChannelSendResult } from "../core/alert.ts";
import type { ChannelDefinition } from "./channel.ts";
import { ChannelInput, defined } from "./channel-input.ts";
import type { OutboundHttp } from "./outbound-http.ts";
import { smsBody } from "./sms-body.ts";

const FIELDS = ["accountSid", "authToken", "from", "messagingServiceSid", "to"] as const;
const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const SERVICE_SID = /^MG[0-9a-fA-F]{32}$/;
const AUTH_TOKEN = /^[A-Za-z0-9]{16,128}$/;
const E164 = /^\+[1-9]\d{1,14}$/;
// Alphanumeric sender IDs, where the destination country allows them: up to 11 characters, at least one letter.
const ALPHANUMERIC_SENDER = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;
const MAX_RECIPIENTS = 20;

/**
 * SMS through Twilio's Messages API (twilio.com/docs/messaging/api/message-resource#create-a-message-resource).
 * Settings: `accountSid`, `authToken` (a secret), the sender as `from` (E.164 number or alphanumeric id) or
 * `messagingServiceSid`, and `to` (1 to 20 E.164 numbers). One API request per number, in parallel.
 *
 * Twilio has no idempotency key for sending, so delivery is at-least-once: when one number fails transiently the
 * whole delivery is retried and numbers already reached get the message again; when a number is refused
 * permanently the delivery fails (the admin must fix the number) even though the others were reached.
 */
export function createSmsChannel(deps: { http: OutboundHttp; baseUrl: string }): ChannelDefinition {
  return {
    type: "sms",

    parse(input, existing) {
      const fields = new ChannelInput(input, FIELDS, existing);
      const stored = existing?.settings ?? {};
      const accountSid = fields.requiredText("accountSid", stored.accountSid, (value) =>
        ACCOUNT_SID.test(value) ? undefined : "must be a Twilio Account SID (AC followed by 32 hex digits)",
      );
      const authToken = fields.requiredText("authToken", existing?.secrets.authToken, (value) =>
        AUTH_TOKEN.test(value)
          ? undefined
          : "must be the account's Auth Token (Twilio Console, Account Info)",
      );
      const sender = parseSender(fields, stored);
      const to = parseNumbers(fields, stored.to);
      return fields.finish({
        settings: defined({ accountSid, ...sender, to }),
        secrets: { authToken: authToken ?? "" },
      });
    },

    describe(record) {
      return { ...record.settings, hasAuthToken: Boolean(record.secrets.authToken) };
    },

    async send(message, channel, context) {
      const settings = channel.settings as {
        accountSid?: string;
        from?: string;
        messagingServiceSid?: string;
        to?: string[];
      };
      const token = channel.secrets.authToken;
      const sender: Record<string, string> | undefined = settings.messagingServiceSid
        ? { MessagingServiceSid: settings.messagingServiceSid }
        : settings.from
          ? { From: settings.from }
          : undefined;
      if (!settings.accountSid || !token || !sender || !settings.to?.length) {
        return { outcome: "failed", status: null, detail: "channel settings are incomplete" };
      }
      const authorization = `Basic ${Buffer.from(`${settings.accountSid}:${token}`).toString("base64")}`;
      const url =
        `${deps.baseUrl.replace(/\/+$/, "")}/2010-04-01/Accounts/` +
        `${encodeURIComponent(settings.accountSid)}/Messages.json`;
      const body = smsBody(message);
      const results = await Promise.all(
        settings.to.map((to) =>
          deps.http.post({
            url,
            headers: { "content-type": "application/x-www-form-urlencoded", authorization },
            body: new URLSearchParams({ To: to, ...sender, Body: body }).toString(),
            secrets: [token, authorization],
            ...(context.signal ? { signal: context.signal } : {}),
          }),
        ),
      );
      return combineRecipientResults(settings.to, results);
    },
  };
}

/**
 * One result for several recipients: retry if any needs it (the longest `Retry-After` wins), else failed if any
 * failed, else delivered. Numbers appear by their last four digits only.
 */
export function combineRecipientResults(
  numbers: readonly string[],
  results: ChannelSendResult[],
): ChannelSendResult {
  const delivered = results.filter((r) => r.outcome === "delivered").length;
  if (delivered === results.length) {
    return {
      outcome: "delivered",
      status: results[0]?.status ?? null,
      detail: `sent to ${delivered} number(s)`,
    };
  }
  const problems = results.flatMap((r, i) =>
    r.outcome === "delivered" ? [] : [`…${(numbers[i] ?? "").slice(-4)}: ${r.detail}`],
  );
  const detail = `sent to ${delivered} of ${results.length} numbers; ${problems.join("; ")}`;
  const retries = results.filter((r) => r.outcome === "retry");
  if (retries.length > 0) {
    const waits = retries.map((r) => r.retryAfterMs).filter((ms): ms is number => ms !== null);
    return {
      outcome: "retry",
      status: retries[0]!.status,
      retryAfterMs: waits.length > 0 ? Math.max(...waits) : null,
      detail,
    };
  }
  const firstProblem = results.find((r) => r.outcome !== "delivered")!;
  return { outcome: "failed", status: firstProblem.status, detail };
}

function parseSender(
  fields: ChannelInput,
  stored: Record<string, unknown>,
): { from?: string; messagingServiceSid?: string } {
  const sentFrom = fields.has("from") && fields.fields.from !== null;
  const sentService = fields.has("messagingServiceSid") && fields.fields.messagingServiceSid !== null;
  if (sentFrom && sentService) {
    fields.problem("from", "give either from or messagingServiceSid, not both");
    fields.problem("messagingServiceSid", "give either from or messagingServiceSid, not both");
    return {};
  }
  if (sentFrom) {
    const from = fields.text("from", (value) =>
      E164.test(value) || ALPHANUMERIC_SENDER.test(value)
        ? undefined
        : "must be a Twilio number in E.164 form (+15551234567) or an alphanumeric sender id",
    );
    return from === undefined ? {} : { from };
  }
  if (sentService) {
    const sid = fields.text("messagingServiceSid", (value) =>
      SERVICE_SID.test(value) ? undefined : "must be a Messaging Service SID (MG followed by 32 hex digits)",
    );
    return sid === undefined ? {} : { messagingServiceSid: sid };
  }
  // Left out (or cleared): keep what is stored unless it was cleared.
  const from = fields.has("from") ? undefined : stored.from;
  const service = fields.has("messagingServiceSid") ? undefined : stored.messagingServiceSid;
  if (typeof service === "string") return { messagingServiceSid: service };
  if (typeof from === "string") return { from };
  fields.problem("from", "is required (or messagingServiceSid)");
  return {};
}

function parseNumbers(fields: ChannelInput, stored: unknown): string[] | undefined {
  if (!fields.has("to")) {
    if (Array.isArray(stored)) return stored as string[];
    return fields.problem("to", "is required: a list of phone numbers in E.164 form");
  }
  const raw = fields.fields.to;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_RECIPIENTS) {
    return fields.problem("to", `must be a list of 1 to ${MAX_RECIPIENTS} phone numbers in E.164 form`);
  }
  const bad = raw.flatMap((entry, i) =>
    typeof entry === "string" && E164.test(entry.trim()) ? [] : [i + 1],
  );
  if (bad.length > 0) {
    const which = bad.length === 1 ? "entry" : "entries";
    return fields.problem(
      "to",
      `${which} ${bad.join(", ")} of ${raw.length} must be E.164 numbers such as +15551234567`,
    );
  }
  return [...new Set((raw as string[]).map((entry) => entry.trim()))];
}
