import type { ChannelSendResult } from "../core/alert.ts";
import { clip } from "./clip.ts";
import { describeNetworkError, sendResultForInterruption } from "./http-send-result.ts";

/** What nodemailer reports for an accepted message. */
export interface SmtpInfo {
  accepted: unknown[];
  rejected: unknown[];
  rejectedErrors?: unknown[];
  response?: string;
}

// RFC 5321 §4.2.1: 4yz replies are transient, 5yz permanent. 503 (bad sequence of commands) is a session state
// problem, fine on a new connection (nodemailer's isPermanentResponseCode makes the same exception).
function isPermanent(code: number): boolean {
  return code >= 500 && code < 600 && code !== 503;
}

/**
 * The message went out, possibly not to everyone. A recipient the server refused permanently needs the admin
 * (failed); one it deferred is retried, and the retry sends to every recipient again (at-least-once).
 */
export function sendResultForSmtpInfo(info: SmtpInfo): ChannelSendResult {
  const total = info.accepted.length + info.rejected.length;
  if (info.rejected.length === 0) {
    return {
      outcome: "delivered",
      status: null,
      detail: `accepted for ${total} recipient(s): ${reply(info.response)}`,
    };
  }
  const codes = (info.rejectedErrors ?? []).map(responseCodeOf).filter((c): c is number => c !== null);
  const summary =
    `accepted for ${info.accepted.length} of ${total} recipients; ${info.rejected.length} refused` +
    (codes.length > 0 ? ` (${[...new Set(codes)].join(", ")})` : "");
  if (codes.some((code) => !isPermanent(code))) {
    return { outcome: "retry", status: null, retryAfterMs: null, detail: summary };
  }
  return { outcome: "failed", status: null, detail: summary };
}

// nodemailer codes (errors.js) that no retry can fix: the configuration or the message is wrong. Everything else
// (ECONNECTION, ETIMEDOUT, ESOCKET, EDNS, ETLS, system errors) is a connection that may work next time.
const PERMANENT_CODES: Readonly<Record<string, string>> = {
  EAUTH: "SMTP authentication failed",
  ENOAUTH: "SMTP server requires authentication but no credentials are configured",
  EREQUIRETLS: "SMTP server does not offer STARTTLS",
  EENVELOPE: "recipients refused",
  EMESSAGE: "message refused",
  ECONFIG: "SMTP configuration rejected",
  EMAXRECIPIENTS: "too many recipients",
};

/** A send that nodemailer rejected: by SMTP reply code when there is one, else by its error code. */
export function sendResultForSmtpError(
  error: unknown,
  cause: "timeout" | "aborted" | undefined,
  timeoutMs: number,
): ChannelSendResult {
  const interrupted = sendResultForInterruption(cause, timeoutMs);
  if (interrupted) return interrupted;
  const record = (typeof error === "object" && error !== null ? error : {}) as Record<string, unknown>;
  const code = typeof record.code === "string" ? record.code : "";
  const rejectedErrors = Array.isArray(record.rejectedErrors) ? record.rejectedErrors : [];
  const replyCodes = [responseCodeOf(error), ...rejectedErrors.map(responseCodeOf)].filter(
    (c): c is number => c !== null,
  );
  if (replyCodes.length > 0) {
    const what =
      code === "EAUTH" ? "SMTP authentication failed" : code === "EENVELOPE" ? "recipients refused" : "SMTP";
    const detail = `${what}: ${reply(typeof record.response === "string" ? record.response : String(replyCodes[0]))}`;
    return replyCodes.every(isPermanent)
      ? { outcome: "failed", status: null, detail }
      : { outcome: "retry", status: null, retryAfterMs: null, detail };
  }
  const permanent = PERMANENT_CODES[code];
  if (permanent !== undefined) return { outcome: "failed", status: null, detail: `${permanent} (${code})` };
  // nodemailer keeps the system or TLS error code (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE) in `originalCode`.
  const original = typeof record.originalCode === "string" ? record.originalCode : "";
  const reason = describeNetworkError(original && original !== code ? original : code);
  return { outcome: "retry", status: null, retryAfterMs: null, detail: `SMTP connection failed: ${reason}` };
}

function responseCodeOf(error: unknown): number | null {
  const code = (error as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === "number" ? code : null;
}

function reply(response: string | undefined): string {
  return clip((response ?? "").replace(/[\u0000-\u001f\u007f]+/g, " ").trim(), 150);
}
