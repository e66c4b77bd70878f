// When to refresh an org's tokens, how to back off after a failure, and when to warn about the client secret.
// Numbers: reference/entra-auth-and-stack.md §1.6 (access tokens live 60-90 min, refresh tokens 90 days
// sliding, daily health refresh) and §1.7 (first retry >= 5 s, honour Retry-After, no fast loops).
// Pure: every function takes `now` (or needs none).

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** Refresh this long before the access token expires, so Graph calls never carry an expired token. */
export const REFRESH_LEAD_MS = 10 * MINUTE_MS;

/**
 * Refresh at least this often even when nothing needs a token: keeps the 90-day sliding window open and finds
 * a revoked grant before monitoring silently stops (§1.6 "health refresh").
 */
export const HEALTH_REFRESH_INTERVAL_MS = DAY_MS;

/** First retry after a transient failure; Microsoft: "first retry at least 5 s after the response". */
export const RETRY_FIRST_DELAY_MS = 5_000;
/** No retry waits longer than this (jitter included), unless `Retry-After` asks for more. */
export const RETRY_MAX_DELAY_MS = 15 * MINUTE_MS;
/** Delays spread upwards by up to this fraction, so orgs that failed together do not retry together. */
export const RETRY_JITTER = 0.2;
/** A `Retry-After` beyond this is treated as this: a bogus header must not stop refreshing for days. */
export const RETRY_AFTER_MAX_MS = DAY_MS;

/** Days before the client secret's expiry at which the operator is warned, largest first. */
export const SECRET_WARNING_DAYS: readonly number[] = Object.freeze([30, 14, 7, 1]);

/** When to refresh a token that expires at `accessTokenExpiresAt` (epoch ms). */
export function refreshDueAt(accessTokenExpiresAt: number): number {
  return accessTokenExpiresAt - REFRESH_LEAD_MS;
}

/**
 * When the next refresh should run: before the access token lapses, and no later than the daily health
 * refresh counted from the last successful refresh.
 */
export function nextRefreshAt(
  accessTokenExpiresAt: number | null,
  lastRefreshAt: number,
  now: number,
): number {
  const health = lastRefreshAt + HEALTH_REFRESH_INTERVAL_MS;
  const due = accessTokenExpiresAt === null ? now : refreshDueAt(accessTokenExpiresAt);
  return Math.max(now, Math.min(due, health));
}

/**
 * Delay before retry number `attempt` (1 = the first retry after the first failure): exponential from 5 s,
 * jittered upwards by up to 20 %, at most 15 min; never shorter than `retryAfterMs` when the server sent one.
 * `random` returns [0, 1) like Math.random.
 */
export function retryDelayMs(
  attempt: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  // The base stops growing where base + full jitter reaches the cap, so jitter survives at the cap.
  const base = Math.min(RETRY_MAX_DELAY_MS / (1 + RETRY_JITTER), RETRY_FIRST_DELAY_MS * 2 ** (n - 1));
  const r = Math.min(Math.max(random(), 0), 1);
  const delay = Math.round(base * (1 + RETRY_JITTER * r));
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs) || retryAfterMs <= 0) return delay;
  return Math.max(delay, Math.ceil(Math.min(retryAfterMs, RETRY_AFTER_MAX_MS)));
}

export interface SecretExpiryNotice {
  /** The threshold crossed (30, 14, 7, 1), or 0 once expired. */
  days: number;
  kind: "expiring" | "expired";
}

/**
 * The warning to raise now about a client secret expiring at `expiresAt`, given the smallest threshold already
 * announced (`warnedDays`, null when none): the smallest newly crossed threshold, or `expired` (days 0) once.
 * A skipped threshold (the relay was down) is not announced separately; only the most urgent one is.
 * Store `days` as the new `warnedDays`; reset `warnedDays` to null when the secret (and its expiry) changes.
 */
export function secretExpiryNotice(
  expiresAt: number | null,
  warnedDays: number | null,
  now: number,
): SecretExpiryNotice | undefined {
  if (expiresAt === null) return undefined;
  const remaining = expiresAt - now;
  if (remaining <= 0) {
    return warnedDays === 0 ? undefined : { days: 0, kind: "expired" };
  }
  let crossed: number | undefined;
  for (const days of SECRET_WARNING_DAYS) {
    if (remaining <= days * DAY_MS && (crossed === undefined || days < crossed)) crossed = days;
  }
  if (crossed === undefined) return undefined;
  if (warnedDays !== null && warnedDays <= crossed) return undefined;
  return { days: crossed, kind: "expiring" };
}
