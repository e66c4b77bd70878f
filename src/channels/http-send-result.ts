import type { ChannelSendResult } from "../core/alert.ts";
import { parseRetryAfter } from "../core/parse-retry-after.ts";

/** What a receiver answered, with the body cut to what the relay reads of it. */
export interface HttpAnswer {
  status: number;
  statusText: string;
  retryAfter: string | undefined;
  contentType: string | undefined;
  body: string;
}

// Standard Webhooks (spec/standard-webhooks.md, "Retry schedule" and "Disabling endpoints"): 2xx is success, 3xx
// is failure and never followed, 410 disables the endpoint, throttling and server errors are retried. 408 and
// 425 are "try again later" by definition (RFC 9110 §15.5.9, RFC 8470 §5.2).
const RETRY_STATUSES = new Set([408, 425, 429]);
const MAX_MESSAGE_LENGTH = 200;

/** Maps one HTTP answer to the outbox's outcome. `detail` may quote the receiver; the caller scrubs secrets. */
export function sendResultForAnswer(answer: HttpAnswer, nowMs: number): ChannelSendResult {
  const { status } = answer;
  const line = `HTTP ${status}${answer.statusText ? ` ${answer.statusText}` : ""}`;
  if (status >= 200 && status < 300) return { outcome: "delivered", status, detail: line };
  const message = receiverMessage(answer.contentType, answer.body);
  const detail = message ? `${line}: ${message}` : line;
  if (status >= 300 && status < 400) {
    // The Location header is left out on purpose: it may carry the same credentials as the URL.
    return {
      outcome: "failed",
      status,
      detail: `${line}: redirects are not followed; configure the final URL`,
    };
  }
  if (status === 410) return { outcome: "gone", status, detail };
  if (RETRY_STATUSES.has(status) || (status >= 500 && status < 600)) {
    return {
      outcome: "retry",
      status,
      retryAfterMs: parseRetryAfter(answer.retryAfter, nowMs) ?? null,
      detail,
    };
  }
  return { outcome: "failed", status, detail };
}

/**
 * A request that got no answer: connection refused or reset, DNS failure, TLS failure, timeout. All are retried
 * (bounded by the outbox): a receiver that is down or a certificate that expired can come back.
 */
export function sendResultForNetworkError(
  error: unknown,
  cause: "timeout" | "aborted" | undefined,
  timeoutMs: number,
): ChannelSendResult {
  const interrupted = sendResultForInterruption(cause, timeoutMs);
  if (interrupted) return interrupted;
  const code =
    typeof (error as { code?: unknown })?.code === "string" ? (error as { code: string }).code : "";
  return { outcome: "retry", status: null, retryAfterMs: null, detail: describeNetworkError(code) };
}

/** A send cut short by its timeout or by shutdown: retried, whatever the channel. */
export function sendResultForInterruption(
  cause: "timeout" | "aborted" | undefined,
  timeoutMs: number,
): ChannelSendResult | undefined {
  if (cause === "timeout")
    return { outcome: "retry", status: null, retryAfterMs: null, detail: `timed out after ${timeoutMs} ms` };
  if (cause === "aborted")
    return {
      outcome: "retry",
      status: null,
      retryAfterMs: null,
      detail: "aborted before an answer (shutdown)",
    };
  return undefined;
}

/** "connection refused (ECONNREFUSED)": a system or TLS error code in words, for delivery details. */
export function describeNetworkError(code: string): string {
  const what = NETWORK_ERRORS[code] ?? (/CERT|SSL|TLS/.test(code) ? "TLS failure" : "network error");
  return code ? `${what} (${code})` : what;
}

const NETWORK_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed while sending",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "DNS lookup failed temporarily",
  ERR_TLS_CERT_ALTNAME_INVALID: "TLS certificate does not match the host",
  CERT_HAS_EXPIRED: "TLS certificate expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "TLS certificate is self-signed",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS certificate not trusted",
  SELF_SIGNED_CERT_IN_CHAIN: "TLS certificate not trusted",
  HPE_INVALID_CONSTANT: "the answer was not HTTP",
  // nodemailer's own codes, when it has no system code to pass on.
  ECONNECTION: "connection failed",
  ESOCKET: "connection error",
  EDNS: "host name lookup failed",
  ETLS: "TLS failure",
};

/** A short reason from an error body: the JSON `message` or `error` fields the receivers use, or plain text. */
export function receiverMessage(contentType: string | undefined, body: string): string {
  const type = (contentType ?? "").toLowerCase();
  let text = "";
  if (type.includes("json")) {
    text = messageFromJson(body);
  } else if (type.startsWith("text/plain") || (type === "" && !body.trimStart().startsWith("<"))) {
    text = body;
  }
  const clean = text
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return clean.length > MAX_MESSAGE_LENGTH ? `${clean.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : clean;
}

// Twilio: { code, message }; Webex: { message, errors: [{ description }] }; Slack and others: { error } or text.
function messageFromJson(body: string): string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return "";
  }
  if (typeof value !== "object" || value === null) return typeof value === "string" ? value : "";
  const record = value as Record<string, unknown>;
  const nested = record.error;
  const parts: unknown[] = [
    record.message,
    typeof nested === "object" && nested !== null ? (nested as Record<string, unknown>).message : nested,
    record.error_description,
    record.detail,
    record.title,
  ];
  const found = parts.find((p): p is string => typeof p === "string" && p.trim() !== "") ?? "";
  const code = typeof record.code === "number" || typeof record.code === "string" ? `${record.code} ` : "";
  return found ? `${code}${found}` : "";
}
