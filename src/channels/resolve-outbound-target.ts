import { lookup as dnsLookup } from "node:dns/promises";
import { classifyAddress, describeAddressCategory, type AddressCategory } from "../core/outbound-target.ts";
import type { HostLookup, ResolvedAddress } from "./channel.ts";

/** Whether a send may go to an address of this category. */
export type TargetPolicy = (category: AddressCategory) => boolean;

export type OutboundTarget = { ok: true; addresses: ResolvedAddress[] } | { ok: false; detail: string };

export const systemLookup: HostLookup = async (hostname) => {
  const found = await dnsLookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/**
 * Resolves a host at send time and checks every address (A and AAAA, as OWASP's SSRF cheat sheet asks: one
 * private answer is enough to refuse, since the connection could pick it). The caller must connect to the
 * returned addresses and no others, so a name that resolves differently a moment later (DNS rebinding) cannot
 * slip past the check. Lookup failures throw, so they are retried like any network error.
 */
export async function resolveOutboundTarget(
  hostname: string,
  options: { lookup: HostLookup; isAllowed: TargetPolicy; signal?: AbortSignal },
): Promise<OutboundTarget> {
  const host = hostname.replace(/^\[|\]$/g, "");
  const literal = classifyAddress(host);
  const addresses: ResolvedAddress[] =
    literal !== null
      ? [{ address: host, family: host.includes(":") ? 6 : 4 }]
      : [...(await abortable(options.lookup(host), options.signal))];
  if (addresses.length === 0) throw Object.assign(new Error("no addresses"), { code: "ENOTFOUND" });
  for (const { address } of addresses) {
    const category = classifyAddress(address)?.category ?? "reserved";
    if (options.isAllowed(category)) continue;
    const subject = literal !== null ? `${address} is` : `${host} resolves to ${address},`;
    return {
      ok: false,
      detail:
        `target refused (ssrf_blocked): ${subject} ${describeAddressCategory(category)}; ` +
        "private targets need RELAY_ALLOW_PRIVATE_TARGETS",
    };
  }
  return { ok: true, addresses };
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
