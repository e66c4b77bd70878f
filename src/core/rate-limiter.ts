// Graph's Teams read limits (reference/graph-change-notifications.md §9.1, docs-contrib includes/throttling-teams.md):
// GET chat message: 20 requests/s per app per tenant and 1 request/s per chat; list chats: 5 requests/s per user.
// One org is one app registration in one tenant with one service user, so the keys are per org.

export interface RateLimiter {
  /** How long from `now` until one request on every key could go; reserves nothing. */
  wouldWait(keys: readonly string[], now: number): number;
  /**
   * Reserves one request on every key at the earliest moment all of them allow it and returns how long from `now`
   * that is: the caller waits that long, then sends.
   */
  reserve(keys: readonly string[], now: number): number;
  /** No request on `key` before `until` (a `Retry-After`); never shortens an earlier block. */
  blockUntil(key: string, until: number): void;
}

/**
 * A keyed limiter that spaces requests evenly: each key allows one request per `intervalMs(key)` (no bursts, the
 * documented limits are per second and Graph counts them in short windows). Pure: time is passed in.
 */
export function createRateLimiter(intervalMs: (key: string) => number): RateLimiter {
  /** Per key, the earliest time the next request may go. */
  const next = new Map<string, number>();
  const blocked = new Map<string, number>();

  function earliest(keys: readonly string[], now: number): number {
    let at = now;
    for (const key of keys) at = Math.max(at, next.get(key) ?? at, blocked.get(key) ?? at);
    return at;
  }

  function prune(now: number): void {
    // Entries in the past constrain nothing; dropping them keeps memory bounded by the keys in use.
    if (next.size > 10_000) for (const [key, at] of next) if (at <= now) next.delete(key);
    if (blocked.size > 1_000) for (const [key, at] of blocked) if (at <= now) blocked.delete(key);
  }

  return {
    wouldWait: (keys, now) => earliest(keys, now) - now,
    reserve(keys, now) {
      prune(now);
      const at = earliest(keys, now);
      for (const key of keys) next.set(key, at + intervalMs(key));
      return at - now;
    },
    blockUntil(key, until) {
      blocked.set(key, Math.max(blocked.get(key) ?? until, until));
    },
  };
}

const SECOND = 1000;

/** Keys for `GET /chats/{id}/messages[/{id}]`: 1/s for the chat, 20/s for the org's app in its tenant. */
export function chatMessageKeys(orgId: string, chatId: string): string[] {
  return [`chat:${orgId}:${chatId}`, `app:${orgId}`];
}

/** Keys for `GET /me/chats`: 5/s for the service user. */
export function chatListKeys(orgId: string): string[] {
  return [`user:${orgId}`];
}

/** Intervals for the keys above: chat 1000 ms, app 50 ms, user 200 ms; anything else 1000 ms. */
export function teamsIntervalMs(key: string): number {
  if (key.startsWith("app:")) return SECOND / 20;
  if (key.startsWith("user:")) return SECOND / 5;
  return SECOND;
}

export function createTeamsRateLimiter(): RateLimiter {
  return createRateLimiter(teamsIntervalMs);
}
