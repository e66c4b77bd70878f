// What processing Teams chat messages (the inbox worker and reconciliation polling) needs from the outside world:
// Graph reads, validation-token checks, rich-notification decryption and the dedupe and watermark stores.
// Adapters in src/microsoft and src/storage implement these; main.ts passes them in.
import type { MessageSource } from "./intake-ports.ts";

/** A Graph GET. `GraphClient` (src/microsoft/graph-client.ts) satisfies it; `path` may be an `@odata.nextLink`. */
export interface GraphReader {
  request<T = any>(orgId: string, method: string, path: string): Promise<{ status: number; body: T }>;
}

/** What a failed Graph call tells the caller (the fields of `GraphRequestError`). Never carries the bearer token. */
export interface GraphFailure {
  /** HTTP status, or null when no answer came (timeout, connection refused). */
  status: number | null;
  retryAfterMs: number | null;
  transport: "timeout" | "network" | null;
}

/** The failure behind an error thrown by a `GraphReader`, or undefined for anything else (no token, a bug). */
export function graphFailureOf(error: unknown): GraphFailure | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as Record<string, unknown>;
  if (!("status" in e && "retryAfterMs" in e && "transport" in e)) return undefined;
  const status = typeof e.status === "number" ? e.status : null;
  const retryAfterMs = typeof e.retryAfterMs === "number" ? e.retryAfterMs : null;
  const transport = e.transport === "timeout" || e.transport === "network" ? e.transport : null;
  if (status === null && transport === null) return undefined;
  return { status, retryAfterMs, transport };
}

export type ValidationTokenCheck =
  /** `audiences`: the (app, tenant) pair of each token, so a caller can require one for the org it handles. */
  | { ok: true; audiences: Array<{ appId: string; tenantId: string }> }
  /** `retryable`: the check could not run (key set unreachable), which says nothing about the token. */
  | { ok: false; reason: string; retryable?: boolean };

/**
 * Checks a rich notification batch's `validationTokens` (reference §6): every token must pass, with `aud` among
 * `appIds` and `tid` among `tenantIds`. A batch to a URL shared by several orgs carries one token per (app, tenant)
 * pair, so callers pass every app sharing the URL. Reasons never contain token material.
 */
export interface ValidationTokenVerifier {
  verify(
    tokens: readonly unknown[] | null | undefined,
    expected: { appIds: readonly string[]; tenantIds: readonly string[] },
    /**
     * When the notification was durably received (the inbox's `receivedAt`; default: now). Tokens live about an
     * hour, and a backlog processed later must not turn Graph's genuine notifications into "expired" refusals; a
     * replayed old notification is received later, so its tokens are still checked as of its own arrival.
     */
    receivedAt?: number,
  ): Promise<ValidationTokenCheck>;
}

/**
 * Decrypts `encryptedContent` (HMAC checked before decrypting): `decryptRichNotification` from
 * src/microsoft/decrypt-rich-notification.ts. Refusals throw an error whose `code` starts with `ERR_NOTIFICATION_`;
 * a rejection of `keyring.resolve` propagates unchanged.
 */
export type RichNotificationDecryptor = (
  encryptedContent: unknown,
  keyring: {
    resolve(
      encryptionCertificateId: string,
    ): Promise<{ privateKey: string; thumbprint?: string } | undefined>;
  },
) => Promise<unknown>;

/** The stable code of a decryption refusal (`NotificationCryptoError`), or undefined for other errors. */
export function notificationCryptoCodeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_NOTIFICATION_") ? code : undefined;
}

export interface SeenMessageKey {
  orgId: string;
  chatId: string;
  messageId: string;
}

/**
 * - `new`: this caller owns the hand-off now; it must `confirm` after handing the message over, or `release` if
 *   that failed.
 * - `seen`: already handed over.
 * - `in_progress`: someone else is handing it over right now; ask again at `retryAt` (a claim that is never
 *   confirmed goes stale and can be taken over then, so a crash between claim and hand-off loses nothing).
 */
export type SeenClaim = { status: "new" } | { status: "seen" } | { status: "in_progress"; retryAt: number };

/** The (org, chat, message) triples already handed to detection: dedupe across notifications and polling. */
export interface SeenMessageRepository {
  claim(
    key: SeenMessageKey & { source: MessageSource; messageCreatedAt: number | null },
    now: number,
  ): Promise<SeenClaim>;
  confirm(key: SeenMessageKey, now: number): Promise<void>;
  release(key: SeenMessageKey): Promise<void>;
}

/** Per org: the `lastModifiedDateTime` (ms) up to which reconciliation polling has seen every chat message. */
export interface PollWatermarkRepository {
  get(orgId: string): Promise<number | undefined>;
  /** Moves forward only; an older value is ignored. */
  advance(orgId: string, watermark: number, now: number): Promise<void>;
}
