/**
 * Where to go after signing in: only a path on this site (`/orgs/x?y`), never another origin, so the login page
 * cannot be used as an open redirect (`//evil.example`, `/\evil.example`, `https://...`).
 */
export function safeReturnPath(raw: unknown, fallback = "/"): string {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > 2048) return fallback;
  if (!raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return fallback;
  if (/[\u0000-\u001f\u007f\\]/.test(raw)) return fallback;
  if (raw === "/login" || raw.startsWith("/login?") || raw.startsWith("/logout")) return fallback;
  return raw;
}
