// Defence in depth behind the CSRF token (OWASP CSRF cheat sheet, "Verifying origin with standard headers" and
// Fetch Metadata): a state-changing request that a browser marks as coming from another site is refused even if
// it somehow carries a token. Requests without these headers (old browsers, scripts) fall through to the token.

export interface RequestOriginHeaders {
  method: string;
  /** `Origin` header, if any. */
  origin: string | undefined;
  /** `Sec-Fetch-Site` header, if any. */
  secFetchSite: string | undefined;
  /** The host the request was sent to (`Host`, or `X-Forwarded-Host` behind a trusted proxy). */
  host: string;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/** Why the request looks cross-site, or undefined when it does not (or is a safe method). */
export function crossSiteReason(request: RequestOriginHeaders): string | undefined {
  if (isSafeMethod(request.method)) return undefined;
  const site = request.secFetchSite?.toLowerCase();
  if (site === "cross-site" || site === "same-site") return `the browser marked it as ${site}`;
  if (request.origin === undefined) return undefined;
  // Privacy-sensitive contexts send `Origin: null`; a form of ours never does.
  if (request.origin === "null") return "it came from an opaque origin";
  let host: string;
  try {
    host = new URL(request.origin).host;
  } catch {
    return "its Origin header is malformed";
  }
  return host.toLowerCase() === request.host.toLowerCase() ? undefined : "it came from another origin";
}
