// What the relay subscribes to and when it renews, rotates and warns. Numbers:
// reference/graph-change-notifications.md §0 and §2.1 (Teams chatMessage subscriptions live at most 4,320 min;
// request 4,200 to leave room for clock skew, renew when under 24 h remain, alert under 6 h) and §5.1
// (certificate rotation keeps the old key).
// Pure: every function takes `now`.

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** All chats of the signed-in service user, including chats created later (§1.1). */
export const SUBSCRIPTION_RESOURCE = "/me/chats/getAllMessages";
export const SUBSCRIPTION_CHANGE_TYPE = "created,updated";
export const NOTIFICATION_PATH = "/api/graph/notifications";
export const LIFECYCLE_PATH = "/api/graph/lifecycle";

/** Requested lifetime: below Graph's 4,320-minute maximum so clock skew never turns a create into a 400. */
export const SUBSCRIPTION_LIFETIME_MS = 4200 * MINUTE_MS;
/** Renew when less than this is left. */
export const RENEW_LEAD_MS = 24 * HOUR_MS;
/** `subscription_expiring` when less than this is left (the renewal kept failing). */
export const EXPIRING_WARNING_MS = 6 * HOUR_MS;
/** The expiring warning becomes critical when less than this is left. */
export const EXPIRING_CRITICAL_MS = HOUR_MS;
/** A new encryption certificate once the current one is this close to its `notAfter`. */
export const CERTIFICATE_ROTATION_LEAD_MS = 30 * DAY_MS;
export const CERTIFICATE_VALID_DAYS = 365;
/**
 * Before answering `reauthorizationRequired` with a PATCH, refresh the delegated token when it has less than this
 * left: Graph ties the subscription's authorization to the token that renewed it, and asks again shortly before
 * that token expires (§7.3), so renewing with a nearly expired token would only bring the next request sooner.
 */
export const REAUTHORIZE_MIN_TOKEN_LIFE_MS = 30 * MINUTE_MS;
/** Graph allows at most 128 characters of `clientState`; 48 random bytes are 64 base64url characters. */
export const CLIENT_STATE_BYTES = 48;

/** The expiry to request now. */
export function requestedExpiration(now: number): number {
  return now + SUBSCRIPTION_LIFETIME_MS;
}

/** When to renew a subscription that expires at `expiresAt` (never in the past). */
export function renewDueAt(expiresAt: number, now: number): number {
  return Math.max(now, expiresAt - RENEW_LEAD_MS);
}

/** When the expiry check should look again: at the 6-hour mark, then at the 1-hour mark, then never. */
export function expiryCheckAt(expiresAt: number, now: number): number | undefined {
  if (expiresAt - now > EXPIRING_WARNING_MS) return expiresAt - EXPIRING_WARNING_MS;
  if (expiresAt - now > EXPIRING_CRITICAL_MS) return expiresAt - EXPIRING_CRITICAL_MS;
  return undefined;
}

/** The warning due now for a subscription expiring at `expiresAt`, if any. */
export function expiryWarning(
  expiresAt: number,
  now: number,
): { severity: "error" | "critical"; hoursLeft: number } | undefined {
  const left = expiresAt - now;
  if (left > EXPIRING_WARNING_MS) return undefined;
  return {
    severity: left <= EXPIRING_CRITICAL_MS ? "critical" : "error",
    hoursLeft: Math.max(0, Math.round((left / HOUR_MS) * 10) / 10),
  };
}

export function certificateNeedsRotation(notAfter: number, now: number): boolean {
  return notAfter - now <= CERTIFICATE_ROTATION_LEAD_MS;
}

/** A failed renewal is retried no sooner than this... */
export const RENEW_RETRY_MIN_MS = 30_000;
/** ...and no later than this, unless Graph's Retry-After asks for more. */
export const RENEW_RETRY_MAX_MS = HOUR_MS;
/** A Retry-After beyond this is treated as this: a bogus header must not stop renewing for days. */
const RETRY_AFTER_CAP_MS = DAY_MS;

/**
 * When to try a failed renewal again: an eighth of the time left, between 30 s and an hour, so attempts get denser
 * as the expiry nears (24 h left: hourly; 1 h left: every few minutes) and never wait past it; never before
 * `retryAfterMs`.
 */
export function renewalRetryAt(expiresAt: number, now: number, retryAfterMs?: number | null): number {
  const delay = Math.min(RENEW_RETRY_MAX_MS, Math.max(RENEW_RETRY_MIN_MS, Math.floor((expiresAt - now) / 8)));
  const floor = retryAfterMs && retryAfterMs > 0 ? Math.min(retryAfterMs, RETRY_AFTER_CAP_MS) : 0;
  return now + Math.max(delay, floor);
}

/** `{base}/api/graph/notifications` and `{base}/api/graph/lifecycle`; the base may carry a path prefix. */
export function webhookUrls(webhookBase: string): {
  notificationUrl: string;
  lifecycleNotificationUrl: string;
} {
  const base = webhookBase.replace(/\/+$/, "");
  return {
    notificationUrl: `${base}${NOTIFICATION_PATH}`,
    lifecycleNotificationUrl: `${base}${LIFECYCLE_PATH}`,
  };
}

/**
 * Graph's 409 message names the existing subscription: "Subscription Id <id> already exists for the requested
 * combination".
 */
export function conflictingSubscriptionId(message: string): string | undefined {
  return /Subscription Id ([0-9a-fA-F-]{36}) already exists/.exec(message)?.[1];
}
