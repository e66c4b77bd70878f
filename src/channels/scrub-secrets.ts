const MIN_FRAGMENT_LENGTH = 6;
const MAX_DETAIL_LENGTH = 300;

/**
 * Removes every secret from a delivery detail, including the parts a receiver might echo on its own: the path
 * segments and query values of a secret URL (a Slack webhook's token segment, a Teams Workflows `sig`), and the
 * URL-encoded and base64 forms. The detail goes to the delivery record and the API, where secrets must never be.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  const fragments = new Set<string>();
  for (const secret of secrets) for (const fragment of fragmentsOf(secret)) fragments.add(fragment);
  let result = text;
  // Longest first, so a whole URL is replaced before its parts.
  for (const fragment of [...fragments].sort((a, b) => b.length - a.length)) {
    result = result.split(fragment).join("[redacted]");
  }
  return result.length > MAX_DETAIL_LENGTH ? `${result.slice(0, MAX_DETAIL_LENGTH - 1)}…` : result;
}

function fragmentsOf(secret: string): string[] {
  if (secret.length < MIN_FRAGMENT_LENGTH) return secret === "" ? [] : [secret];
  const found = [secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64")];
  if (/^https?:\/\//i.test(secret)) {
    try {
      const url = new URL(secret);
      found.push(url.pathname, ...url.pathname.split("/"));
      for (const value of url.searchParams.values()) found.push(value, encodeURIComponent(value));
    } catch {
      // Not a URL after all; the whole value is still scrubbed.
    }
  }
  return found.filter((f) => f.length >= MIN_FRAGMENT_LENGTH);
}
