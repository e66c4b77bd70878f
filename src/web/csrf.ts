import { createHmac, timingSafeEqual } from "node:crypto";

/** The form field and header a state-changing web request carries its token in. */
export const CSRF_FIELD = "_csrf";
export const CSRF_HEADER = "x-csrf-token";

/**
 * The synchronizer token of a session: an HMAC keyed with the session id, so it is tied to that session, changes
 * when the session rotates at sign-in, and needs no storage. Someone who can read a page's token still cannot
 * derive the session id from it.
 */
export function csrfTokenFor(sessionId: string): string {
  return createHmac("sha256", sessionId).update("relay web csrf v1").digest("base64url");
}

export function csrfTokenMatches(expected: string, presented: unknown): boolean {
  if (typeof presented !== "string") return false;
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(presented, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}
