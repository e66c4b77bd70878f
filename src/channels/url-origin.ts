/**
 * Scheme, host and port of a stored URL, for API views: enough to tell where alerts go, without the path and
 * query that carry the credentials of Slack, Teams Workflows and many webhook receivers.
 */
export function urlOrigin(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const origin = new URL(url).origin;
    return origin === "null" ? null : origin;
  } catch {
    return null;
  }
}
