// IPv4 and IPv6 CIDR ranges, parsed and matched without node:net so that config validation and tests share one
// pure implementation. Every address is held as a 128-bit IPv6 number; IPv4 lives in the IPv4-mapped block
// `::ffff:0:0/96`, so `127.0.0.1`, `::ffff:127.0.0.1` and `::ffff:7f00:1` are one address and `127.0.0.0/8` is
// `::ffff:127.0.0.0/104`. A dual-stack socket reports IPv4 clients in the mapped form; both forms match.

export interface CidrRange {
  /** The network address as a 128-bit number (IPv4 mapped into `::ffff:0:0/96`), host bits zero. */
  readonly network: bigint;
  /** Prefix length over the 128-bit form (an IPv4 `/8` is 104). */
  readonly prefix: number;
  /** The range as written in its canonical family: `10.0.0.0/8`, `2001:db8::/32`. */
  readonly text: string;
}

const V4_MAPPED = 0xffffn << 32n;
const ALL_ONES = (1n << 128n) - 1n;

/** The 128-bit form of an IPv4 or IPv6 address (an IPv6 zone such as `%eth0` is ignored), or null. */
export function parseIpAddress(input: string): bigint | null {
  const address = input.trim();
  if (address.includes(":")) return parseIpv6(address.replace(/%[0-9A-Za-z._~-]+$/, ""));
  const v4 = parseIpv4(address);
  return v4 === null ? null : V4_MAPPED | v4;
}

/**
 * `10.0.0.0/8`, `2001:db8::/32`, or a bare address as a single host. Null when the text is not one, or when it
 * sets bits beyond the prefix (`10.0.0.1/8` is more likely a typo for a host than a deliberate network).
 */
export function parseCidr(input: string): CidrRange | null {
  const text = input.trim();
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  if (addressText.includes("%")) return null;
  const isV6 = addressText.includes(":");
  const address = parseIpAddress(addressText);
  if (address === null) return null;
  const width = isV6 ? 128 : 32;
  let length = width;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return null;
    length = Number(prefixText);
    if (length > width) return null;
  }
  const prefix = isV6 ? length : length + 96;
  const network = address & mask(prefix);
  if (network !== address) return null;
  const canonical = isV6 ? formatIpv6(network) : formatIpv4(network & 0xffffffffn);
  return { network, prefix, text: `${canonical}/${length}` };
}

export function cidrContains(range: CidrRange, address: bigint): boolean {
  return (address & mask(range.prefix)) === range.network;
}

/** True when the address is in any of the ranges; false for anything that is not an IP address. */
export type AddressMatcher = (address: string | undefined) => boolean;

export function createCidrMatcher(ranges: readonly CidrRange[]): AddressMatcher {
  return (text) => {
    if (text === undefined) return false;
    const address = parseIpAddress(text);
    return address !== null && ranges.some((range) => cidrContains(range, address));
  };
}

export type CidrListResult = { ok: true; ranges: CidrRange[] } | { ok: false; badEntries: number[] };

/** A comma-separated list; empty entries (a trailing comma) are skipped. `badEntries` are 1-based positions. */
export function parseCidrList(input: string): CidrListResult {
  const entries = input
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const ranges: CidrRange[] = [];
  const badEntries: number[] = [];
  entries.forEach((entry, index) => {
    const range = parseCidr(entry);
    if (range) ranges.push(range);
    else badEntries.push(index + 1);
  });
  return badEntries.length > 0 ? { ok: false, badEntries } : { ok: true, ranges };
}

function mask(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL_ONES << BigInt(128 - prefix)) & ALL_ONES;
}

/** Strict dotted decimal: four parts of 0-255 without leading zeros (which some parsers read as octal). */
function parseIpv4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6(text: string): bigint | null {
  let head = text;
  let tail = "";
  const gap = text.indexOf("::");
  if (gap !== -1) {
    if (text.indexOf("::", gap + 1) !== -1) return null;
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === "" ? [] : tail.split(":");
  // A trailing dotted IPv4 part (`::ffff:1.2.3.4`) stands for the last two groups.
  const groups: number[] = [];
  const lastList = gap === -1 ? headGroups : tailGroups;
  let v4Tail: bigint | null = null;
  if (lastList.length > 0 && lastList[lastList.length - 1]!.includes(".")) {
    v4Tail = parseIpv4(lastList.pop()!);
    if (v4Tail === null) return null;
  }
  for (const list of [headGroups, tailGroups]) {
    for (const group of list) if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
  }
  const wanted = v4Tail === null ? 8 : 6;
  const present = headGroups.length + tailGroups.length;
  if (gap === -1 ? present !== wanted : present > wanted - 1) return null;
  groups.push(...headGroups.map((g) => parseInt(g, 16)));
  for (let i = present; i < wanted; i++) groups.push(0);
  groups.push(...tailGroups.map((g) => parseInt(g, 16)));
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  if (v4Tail !== null) value = (value << 32n) | v4Tail;
  return value;
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
}

/** RFC 5952: lower case, no leading zeros, the longest run (2+) of zero groups as `::`. */
function formatIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
