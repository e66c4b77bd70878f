// Which IP addresses an outbound alert may be sent to. The relay sends to URLs that admins configure, so without
// this check an admin API call could make it reach the cloud metadata service, the database or its own admin API
// (OWASP SSRF Prevention Cheat Sheet, "Case 2": deny private, loopback and link-local ranges and check every
// resolved address). The ranges are IANA's special-purpose registries
// (iana.org/assignments/iana-ipv4-special-registry, iana.org/assignments/iana-ipv6-special-registry); IPv6
// outside global unicast `2000::/3` is unassigned and refused as reserved.
import { cidrContains, parseCidr, parseIpAddress, type CidrRange } from "./cidr.ts";

export type AddressCategory =
  | "public"
  | "unspecified"
  | "loopback"
  | "private"
  | "cgnat"
  | "link_local"
  | "multicast"
  | "broadcast"
  | "unique_local"
  | "documentation"
  | "reserved";

export interface AddressClassification {
  category: AddressCategory;
  /**
   * The IPv4 address an IPv6 form carries (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`),
   * which is what the classification went by; null for plain addresses.
   */
  embeddedIpv4: string | null;
}

const IPV4_RANGES = table([
  ["0.0.0.0/8", "unspecified"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "cgnat"],
  ["127.0.0.0/8", "loopback"],
  // Includes 169.254.169.254, the metadata service of AWS, Azure, GCP and others.
  ["169.254.0.0/16", "link_local"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "reserved"],
  ["192.0.2.0/24", "documentation"],
  ["192.88.99.0/24", "reserved"],
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "reserved"],
  ["198.51.100.0/24", "documentation"],
  ["203.0.113.0/24", "documentation"],
  ["224.0.0.0/4", "multicast"],
  ["255.255.255.255/32", "broadcast"],
  ["240.0.0.0/4", "reserved"],
]);

const IPV6_RANGES = table([
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  // Local-use NAT64 (RFC 8215) translates to addresses inside the operator's network.
  ["64:ff9b:1::/48", "private"],
  // IETF protocol assignments, including Teredo (2001::/32), whose embedded IPv4 is obfuscated.
  ["2001::/23", "reserved"],
  ["2001:db8::/32", "documentation"],
  ["3fff::/20", "documentation"],
  ["fc00::/7", "unique_local"],
  ["fe80::/10", "link_local"],
  ["fec0::/10", "reserved"],
  ["ff00::/8", "multicast"],
]);

const IPV4_MAPPED = range("::ffff:0:0/96");
const NAT64 = range("64:ff9b::/96");
const SIX_TO_FOUR = range("2002::/16");
const GLOBAL_UNICAST = range("2000::/3");

/**
 * Classifies an IPv4 or IPv6 address in its usual text forms (`127.0.0.1`, `::1`, `::ffff:7f00:1`, `fe80::1%eth0`);
 * null when the text is not an address. IPv6 forms that carry an IPv4 address are classified by that address, so
 * `::ffff:127.0.0.1` is loopback and `64:ff9b::a00:1` (NAT64 of 10.0.0.1) is private.
 */
export function classifyAddress(text: string): AddressClassification | null {
  const address = parseIpAddress(text);
  if (address === null) return null;
  const isIpv6Text = text.includes(":");
  if (cidrContains(IPV4_MAPPED, address)) {
    return { category: classifyIpv4(address), embeddedIpv4: isIpv6Text ? formatIpv4(address) : null };
  }
  const embedded = embeddedIpv4(address);
  if (embedded !== null) {
    return { category: classifyIpv4(embedded), embeddedIpv4: formatIpv4(embedded) };
  }
  const listed = IPV6_RANGES.find(([r]) => cidrContains(r, address));
  if (listed) return { category: listed[1], embeddedIpv4: null };
  return { category: cidrContains(GLOBAL_UNICAST, address) ? "public" : "reserved", embeddedIpv4: null };
}

const CATEGORY_TEXT: Readonly<Record<AddressCategory, string>> = {
  public: "a public address",
  unspecified: "an unspecified address (0.0.0.0 or ::)",
  loopback: "a loopback address",
  private: "a private network address",
  cgnat: "a carrier-grade NAT address (100.64.0.0/10)",
  link_local: "a link-local address (including the cloud metadata service 169.254.169.254)",
  multicast: "a multicast address",
  broadcast: "the broadcast address",
  unique_local: "an IPv6 unique local address (fc00::/7)",
  documentation: "a documentation-only address",
  reserved: "a reserved address",
};

/** "a loopback address", for messages that explain a refusal. */
export function describeAddressCategory(category: AddressCategory): string {
  return CATEGORY_TEXT[category];
}

function classifyIpv4(address: bigint): AddressCategory {
  const mapped = IPV4_MAPPED.network | (address & 0xffffffffn);
  return IPV4_RANGES.find(([r]) => cidrContains(r, mapped))?.[1] ?? "public";
}

/** The IPv4 address inside a NAT64 or 6to4 address, as a mapped 128-bit value. */
function embeddedIpv4(address: bigint): bigint | null {
  if (cidrContains(NAT64, address)) return IPV4_MAPPED.network | (address & 0xffffffffn);
  if (cidrContains(SIX_TO_FOUR, address)) return IPV4_MAPPED.network | ((address >> 80n) & 0xffffffffn);
  return null;
}

function formatIpv4(address: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((address >> shift) & 0xffn)).join(".");
}

function range(text: string): CidrRange {
  const parsed = parseCidr(text);
  if (parsed === null) throw new Error(`bad built-in range ${text}`);
  return parsed;
}

function table(rows: [string, AddressCategory][]): [CidrRange, AddressCategory][] {
  return rows.map(([text, category]) => [range(text), category]);
}
