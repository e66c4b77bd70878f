import { isIP } from "node:net";
import { rootCertificates } from "node:tls";
import nodemailer from "nodemailer";
import type { ChannelSendResult } from "../core/alert.ts";
import { classifyAddress, describeAddressCategory, type AddressCategory } from "../core/outbound-target.ts";
import type { ChannelDefinition, HostLookup } from "./channel.ts";
import { ChannelInput, defined, definedSecrets, maxLength } from "./channel-input.ts";
import { emailContent } from "./email-content.ts";
import { resolveOutboundTarget } from "./resolve-outbound-target.ts";
import { scrubSecrets } from "./scrub-secrets.ts";
import { sendResultForSmtpError, sendResultForSmtpInfo } from "./smtp-send-result.ts";

export const SMTP_SECURITY = ["tls", "starttls", "none"] as const;
export type SmtpSecurity = (typeof SMTP_SECURITY)[number];

const FIELDS = ["host", "port", "security", "username", "password", "from", "to"] as const;
const DEFAULT_PORTS: Readonly<Record<SmtpSecurity, number>> = { tls: 465, starttls: 587, none: 25 };
const MAX_RECIPIENTS = 50;
const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const EMAIL =
  /^(?=.{3,254}$)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

// Mail relays are internal servers on private or loopback addresses far more often than not, and a connection
// that speaks SMTP cannot be turned into a request to an internal web API, so the private-target rule of the HTTP
// channels does not apply here. Addresses that are never a mail server still are refused: link-local (the cloud
// metadata service), unspecified, multicast, broadcast, documentation and reserved ranges.
const SMTP_REFUSED = new Set<AddressCategory>([
  "link_local",
  "unspecified",
  "multicast",
  "broadcast",
  "documentation",
  "reserved",
]);

/**
 * Email over SMTP (nodemailer). Settings: `host`, `port` (default by `security`: 465, 587 or 25), `security`
 * (`tls` from the first byte, `starttls` required, or `none`; default `starttls`), optional `username` and
 * `password` (a secret; only over TLS), `from`, `to` (1 to 50 addresses). One message to all recipients.
 */
export function createEmailChannel(deps: {
  allowPrivateTargets: boolean;
  timeoutMs: number;
  lookup: HostLookup;
  extraCaPem?: string;
}): ChannelDefinition {
  const isAllowed = (category: AddressCategory) => deps.allowPrivateTargets || !SMTP_REFUSED.has(category);
  const ca = deps.extraCaPem ? [...rootCertificates, deps.extraCaPem] : undefined;

  return {
    type: "email",

    parse(input, existing) {
      const fields = new ChannelInput(input, FIELDS, existing);
      const stored = existing?.settings ?? {};
      const host = fields.requiredText("host", stored.host, (value) => {
        const literal = classifyAddress(value.replace(/^\[|\]$/g, ""));
        if (literal === null)
          return HOST_NAME.test(value) ? undefined : "must be a host name or an IP address";
        return isAllowed(literal.category)
          ? undefined
          : `points at ${describeAddressCategory(literal.category)}, which cannot be a mail server`;
      });
      const security = parseSecurity(fields, stored.security);
      const port = parsePort(fields, stored.port, security);
      const username = fields.optionalText("username", stored.username, maxLength(256));
      let password = fields.optionalText("password", existing?.secrets.password, maxLength(1024));
      if (username === undefined && password !== undefined) {
        if (fields.has("password") && fields.fields.password !== null)
          fields.problem("password", "needs a username");
        password = undefined;
      }
      if (username !== undefined && password === undefined)
        fields.problem("password", "is required with a username");
      if (password !== undefined && security === "none") {
        fields.problem("password", 'needs security "tls" or "starttls": it would cross the network in clear');
      }
      const from = fields.requiredText("from", stored.from, (value) =>
        EMAIL.test(value) ? undefined : "must be an email address such as relay@example.com",
      );
      const to = parseRecipients(fields, stored.to);
      return fields.finish({
        settings: defined({ host, port, security, username, from, to }),
        secrets: definedSecrets({ password }),
      });
    },

    describe(record) {
      return { ...record.settings, hasPassword: Boolean(record.secrets.password) };
    },

    async send(message, channel, context) {
      const settings = channel.settings as {
        host?: string;
        port?: number;
        security?: SmtpSecurity;
        username?: string;
        from?: string;
        to?: string[];
      };
      const password = channel.secrets.password;
      if (!settings.host || !settings.port || !settings.security || !settings.from || !settings.to?.length) {
        return { outcome: "failed", status: null, detail: "channel settings are incomplete" };
      }
      const timeout = AbortSignal.timeout(deps.timeoutMs);
      const signal = context.signal ? AbortSignal.any([timeout, context.signal]) : timeout;
      let result: ChannelSendResult;
      try {
        const target = await resolveOutboundTarget(settings.host, { lookup: deps.lookup, isAllowed, signal });
        if (!target.ok) return { outcome: "failed", status: null, detail: target.detail };
        const hostName = isIP(settings.host.replace(/^\[|\]$/g, "")) ? undefined : settings.host;
        const transport = nodemailer.createTransport({
          // The checked address, with the name kept for SNI and certificate verification.
          host: target.addresses[0]!.address,
          port: settings.port,
          secure: settings.security === "tls",
          requireTLS: settings.security === "starttls",
          ignoreTLS: settings.security === "none",
          ...(hostName ? { servername: hostName } : {}),
          tls: {
            minVersion: "TLSv1.2",
            ...(hostName ? { servername: hostName } : {}),
            ...(ca ? { ca } : {}),
          },
          ...(settings.username && password ? { auth: { user: settings.username, pass: password } } : {}),
          connectionTimeout: deps.timeoutMs,
          greetingTimeout: deps.timeoutMs,
          socketTimeout: deps.timeoutMs,
          logger: false,
          disableFileAccess: true,
          disableUrlAccess: true,
        });
        try {
          const content = emailContent(message);
          const info = await transport.sendMail({
            from: settings.from,
            to: settings.to,
            subject: content.subject,
            text: content.text,
            html: content.html,
            // The same Message-ID on every attempt, so mail clients can fold a duplicate from a retry.
            messageId: `<alert-${message.id.replace(/[^A-Za-z0-9._-]/g, "_")}@${settings.from.split("@")[1]}>`,
            headers: { "Auto-Submitted": "auto-generated", "X-Relay-Alert-Id": message.id },
            ...(message.severity === "critical" ? { priority: "high" as const } : {}),
            signal,
          });
          result = sendResultForSmtpInfo(info);
        } finally {
          transport.close();
        }
      } catch (error) {
        const cause = timeout.aborted ? "timeout" : context.signal?.aborted ? "aborted" : undefined;
        result = sendResultForSmtpError(error, cause, deps.timeoutMs);
      }
      return {
        ...result,
        detail: scrubSecrets(result.detail ?? "", password ? [password] : []),
      } as ChannelSendResult;
    },
  };
}

function parseSecurity(fields: ChannelInput, stored: unknown): SmtpSecurity {
  if (!fields.has("security")) return typeof stored === "string" ? (stored as SmtpSecurity) : "starttls";
  const raw = fields.fields.security;
  if (typeof raw === "string" && (SMTP_SECURITY as readonly string[]).includes(raw))
    return raw as SmtpSecurity;
  fields.problem("security", 'must be "tls" (port 465), "starttls" (port 587) or "none" (port 25)');
  return "starttls";
}

function parsePort(fields: ChannelInput, stored: unknown, security: SmtpSecurity): number | undefined {
  if (!fields.has("port") || fields.fields.port === null) {
    return typeof stored === "number" && !fields.has("port") ? stored : DEFAULT_PORTS[security];
  }
  const raw = fields.fields.port;
  if (typeof raw === "number" && Number.isInteger(raw) && raw >= 1 && raw <= 65535) return raw;
  return fields.problem("port", "must be an integer from 1 to 65535");
}

function parseRecipients(fields: ChannelInput, stored: unknown): string[] | undefined {
  if (!fields.has("to")) {
    if (Array.isArray(stored)) return stored as string[];
    return fields.problem("to", "is required: a list of email addresses");
  }
  const raw = fields.fields.to;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_RECIPIENTS) {
    return fields.problem("to", `must be a list of 1 to ${MAX_RECIPIENTS} email addresses`);
  }
  const bad = raw.flatMap((entry, i) =>
    typeof entry === "string" && EMAIL.test(entry.trim()) ? [] : [i + 1],
  );
  if (bad.length > 0) {
    const which = bad.length === 1 ? "entry" : "entries";
    return fields.problem(
      "to",
      `${which} ${bad.join(", ")} of ${raw.length} must be email addresses such as desk@example.com`,
    );
  }
  return [...new Set((raw as string[]).map((entry) => entry.trim()))];
}
