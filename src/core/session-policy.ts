// Web-app sessions expire after a stretch without requests (idle) and, whatever the activity, a fixed time after
// sign-in (absolute), as OWASP's session management cheat sheet asks. Pure: `now` is passed in.

export interface SessionTimes {
  createdAt: number;
  lastSeenAt: number;
}

export interface SessionLifetime {
  idleMs: number;
  absoluteMs: number;
}

export type SessionVerdict = "valid" | "idle" | "expired";

export function sessionVerdict(
  session: SessionTimes,
  now: number,
  lifetime: SessionLifetime,
): SessionVerdict {
  if (now >= session.createdAt + lifetime.absoluteMs) return "expired";
  if (now >= session.lastSeenAt + lifetime.idleMs) return "idle";
  return "valid";
}

// Writing `last_seen_at` on every request would turn each page view (and each board refresh) into a write;
// a minute of slack changes the idle timeout by at most that much.
const TOUCH_EVERY_MS = 60_000;

export function shouldTouch(session: SessionTimes, now: number): boolean {
  return now - session.lastSeenAt >= TOUCH_EVERY_MS;
}
