import { classifyAddress, describeAddressCategory } from "../core/outbound-target.ts";

export type OutboundUrlResult = { ok: true; url: URL } | { ok: false; reason: string };

const MAX_URL_LENGTH = 2048;
const PRIVATE_HINT = "unless RELAY_ALLOW_PRIVATE_TARGETS is set";

/**
 * Checks an admin-configured target URL when it is saved. Parsing is WHATWG `URL`'s, the parser `fetch` and
 * `http.request` use, so `http://2130706433/`, `http://0x7f.1/` and `http://127。0。0。1/` are all seen as
 * 127.0.0.1 here exactly as they would be when connecting. Reasons never repeat the URL: Slack and Teams URLs
 * are credentials. A host name is only checked at send time, against every address it then resolves to.
 */
export function parseOutboundUrl(raw: unknown, allowPrivateTargets: boolean): OutboundUrlResult {
  if (typeof raw !== "string" || raw.trim() === "") return fail("must be an absolute https URL");
  const text = raw.trim();
  if (text.length > MAX_URL_LENGTH) return fail(`must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail("must be an absolute https URL such as https://hooks.example.com/alerts");
  }
  if (url.protocol !== "https:" && !(allowPrivateTargets && url.protocol === "http:")) {
    return fail(
      allowPrivateTargets
        ? "must be an http or https URL"
        : `must be an https URL (http only ${PRIVATE_HINT})`,
    );
  }
  // `https://allowed.example@127.0.0.1/` sends to 127.0.0.1; credentials in the authority have no use here.
  if (url.username !== "" || url.password !== "") return fail("must not contain user:password@ credentials");
  if (url.hash !== "") return fail("must not contain a #fragment");
  const host = url.hostname.replace(/\.$/, "").toLowerCase();
  if (host === "") return fail("must name a host");
  if (allowPrivateTargets) return { ok: true, url };
  // RFC 6761 §6.3: localhost names always resolve to loopback.
  if (host === "localhost" || host.endsWith(".localhost")) {
    return fail(`points at a loopback address, refused ${PRIVATE_HINT}`);
  }
  const literal = classifyAddress(host.replace(/^\[|\]$/g, ""));
  if (literal !== null && literal.category !== "public") {
    return fail(`points at ${describeAddressCategory(literal.category)}, refused ${PRIVATE_HINT}`);
  }
  return { ok: true, url };
}

function fail(reason: string): OutboundUrlResult {
  return { ok: false, reason };
}
