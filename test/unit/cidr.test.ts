import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { BlockList, isIP } from "node:net";
import { describe, it } from "node:test";
import {
  cidrContains,
  createCidrMatcher,
  parseCidr,
  parseCidrList,
  parseIpAddress,
  type CidrRange,
} from "../../src/core/cidr.ts";

function range(text: string): CidrRange {
  const parsed = parseCidr(text);
  assert.ok(parsed, `${text} should parse`);
  return parsed;
}

function matcher(...texts: string[]) {
  return createCidrMatcher(texts.map(range));
}

describe("parseIpAddress", () => {
  it("reads IPv4, IPv6, compressed IPv6 and the IPv4-mapped forms as one 128-bit number", () => {
    assert.equal(parseIpAddress("0.0.0.0"), 0xffffn << 32n);
    assert.equal(parseIpAddress("127.0.0.1"), (0xffffn << 32n) | 0x7f000001n);
    assert.equal(parseIpAddress("::ffff:127.0.0.1"), parseIpAddress("127.0.0.1"));
    assert.equal(parseIpAddress("::FFFF:7f00:1"), parseIpAddress("127.0.0.1"));
    assert.equal(parseIpAddress("0:0:0:0:0:ffff:7f00:0001"), parseIpAddress("127.0.0.1"));
    assert.equal(parseIpAddress("::1"), 1n);
    assert.equal(parseIpAddress("::"), 0n);
    assert.equal(parseIpAddress("2001:db8::"), 0x20010db8n << 96n);
    assert.equal(parseIpAddress("2001:db8:0:0:0:0:0:1"), (0x20010db8n << 96n) | 1n);
    assert.equal(parseIpAddress("fe80::1%eth0"), (0xfe80n << 112n) | 1n, "zone ignored");
    assert.equal(parseIpAddress("1:2:3:4:5:6:1.2.3.4"), parseIpAddress("1:2:3:4:5:6:102:304"));
  });

  it("refuses anything that is not an address", () => {
    for (const bad of [
      "",
      "localhost",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.-4",
      " 1 .2.3.4",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      ":::",
      ":1::",
      "12345::",
      "g::1",
      "1.2.3.4::",
      "::1.2.3",
      "1:2:3:4:5:6:7:1.2.3.4",
    ]) {
      assert.equal(parseIpAddress(bad), null, JSON.stringify(bad));
      if (isIP(bad) !== 0) assert.fail(`node:net accepts ${bad}`);
    }
  });
});

describe("parseCidr", () => {
  it("parses IPv4 and IPv6 ranges and bare addresses, written canonically", () => {
    assert.equal(range("10.0.0.0/8").text, "10.0.0.0/8");
    assert.equal(range(" 192.168.1.0/24 ").text, "192.168.1.0/24");
    assert.equal(range("0.0.0.0/0").text, "0.0.0.0/0");
    assert.equal(range("203.0.113.7").text, "203.0.113.7/32");
    assert.equal(range("2001:DB8:0000::/32").text, "2001:db8::/32");
    assert.equal(range("::1").text, "::1/128");
    assert.equal(range("::/0").text, "::/0");
    assert.equal(range("fe80:0:0:0:1:0:0:0/80").text, "fe80::1:0:0:0/80");
    assert.equal(range("10.0.0.0/8").prefix, 104, "IPv4 ranges live in ::ffff:0:0/96");
  });

  it("refuses malformed ranges, prefixes beyond the family and host bits beyond the prefix", () => {
    for (const bad of [
      "",
      "10.0.0.0/",
      "10.0.0.0/33",
      "10.0.0.0/-1",
      "10.0.0.0/8/8",
      "10.0.0.0/ 8",
      "10.0.0.1/8",
      "10.0.0.0/0x8",
      "2001:db8::/129",
      "2001:db8::1/32",
      "fe80::/10%eth0",
      "fe80::%eth0/64",
      "example.com/24",
    ]) {
      assert.equal(parseCidr(bad), null, JSON.stringify(bad));
    }
  });

  it("parses a comma-separated list and names the position of each bad entry", () => {
    const ok = parseCidrList(" 10.0.0.0/8, 2001:db8::/32 ,,127.0.0.1,");
    assert.ok(ok.ok);
    assert.deepEqual(
      ok.ranges.map((r) => r.text),
      ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1/32"],
    );
    assert.deepEqual(parseCidrList("10.0.0.0/8,nope,10.0.0.1/8"), { ok: false, badEntries: [2, 3] });
    assert.deepEqual(parseCidrList(""), { ok: true, ranges: [] });
  });
});

describe("CIDR matching", () => {
  it("matches IPv4 at the edges of a range", () => {
    const lan = matcher("192.168.4.0/22");
    assert.ok(lan("192.168.4.0"));
    assert.ok(lan("192.168.7.255"));
    assert.ok(!lan("192.168.3.255"));
    assert.ok(!lan("192.168.8.0"));
    assert.ok(matcher("0.0.0.0/0")("255.255.255.255"));
    assert.ok(matcher("203.0.113.7")("203.0.113.7"));
    assert.ok(!matcher("203.0.113.7")("203.0.113.8"));
  });

  it("matches IPv6 ranges", () => {
    const doc = matcher("2001:db8::/32");
    assert.ok(doc("2001:db8::1"));
    assert.ok(doc("2001:0db8:ffff:ffff:ffff:ffff:ffff:ffff"));
    assert.ok(!doc("2001:db9::"));
    assert.ok(!doc("2001:db7:ffff::"));
    assert.ok(matcher("::1/128")("::1"));
    assert.ok(!matcher("::1/128")("::2"));
  });

  it("treats IPv4-mapped IPv6 addresses as the IPv4 address they carry, and the other way round", () => {
    const loopback = matcher("127.0.0.0/8");
    assert.ok(loopback("127.0.0.1"));
    assert.ok(loopback("::ffff:127.0.0.1"), "what a dual-stack socket reports for an IPv4 client");
    assert.ok(loopback("::ffff:7f00:1"));
    assert.ok(!loopback("::1"), "IPv6 loopback is not 127.0.0.0/8");
    assert.ok(!loopback("::ffff:10.0.0.1"));
    assert.ok(!loopback("::7f00:1"), "IPv4-compatible (deprecated) is not IPv4-mapped");
    assert.ok(matcher("::ffff:10.0.0.0/104")("10.1.2.3"));
    assert.ok(!matcher("::1/128")("127.0.0.1"));
  });

  it("never matches what is not an address", () => {
    const all = matcher("0.0.0.0/0", "::/0");
    assert.ok(all("::"));
    for (const bad of [undefined, "", "localhost", "10.0.0.256", "::g"]) assert.ok(!all(bad), String(bad));
    assert.ok(!createCidrMatcher([])("127.0.0.1"), "an empty list matches nothing");
  });

  it("agrees with node:net BlockList on random addresses and ranges", () => {
    const v4 = () => [...randomBytes(4)].join(".");
    const v6 = () => (randomBytes(16).toString("hex").match(/.{4}/g) ?? []).join(":");
    for (let i = 0; i < 300; i++) {
      const family = i % 2 === 0 ? "ipv4" : "ipv6";
      const width = family === "ipv4" ? 32 : 128;
      const prefix = i % 7 === 0 ? 0 : 1 + (i % width);
      // Build the network by masking a random address with the reference parser's help.
      const base = family === "ipv4" ? v4() : v6();
      const probe = range(base.includes(":") ? `${base}/128` : `${base}/32`);
      const list = new BlockList();
      list.addSubnet(base, prefix, family);
      // The network address: the base with host bits cleared, found through our own formatter.
      const net = parseCidr(`${base}/${prefix}`) ?? masked(base, prefix, family);
      const ours = createCidrMatcher([net]);
      for (const candidate of [base, family === "ipv4" ? v4() : v6(), nearby(base, family)]) {
        assert.equal(
          ours(candidate),
          list.check(candidate, family),
          `${candidate} in ${net.text} (from ${base}/${prefix})`,
        );
      }
      assert.ok(cidrContains(net, probe.network));
    }
  });
});

/** The range `base/prefix` with host bits cleared (parseCidr refuses set host bits, BlockList masks them). */
function masked(base: string, prefix: number, family: "ipv4" | "ipv6"): CidrRange {
  const address = parseIpAddress(base)!;
  const total = family === "ipv4" ? prefix + 96 : prefix;
  const mask = total === 0 ? 0n : (((1n << 128n) - 1n) << BigInt(128 - total)) & ((1n << 128n) - 1n);
  const network = address & mask;
  const text =
    family === "ipv4"
      ? [24n, 16n, 8n, 0n].map((s) => String((network >> s) & 0xffn)).join(".")
      : Array.from({ length: 8 }, (_, i) => ((network >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(
          ":",
        );
  return range(`${text}/${prefix}`);
}

/** The base address with its last group or octet changed: usually in a long prefix's range or just outside. */
function nearby(base: string, family: "ipv4" | "ipv6"): string {
  const separator = family === "ipv4" ? "." : ":";
  const parts = base.split(separator);
  const last = parts.pop()!;
  const flipped =
    family === "ipv4" ? String(Number(last) ^ 1) : (parseInt(last, 16) ^ 1).toString(16).padStart(4, "0");
  return [...parts, flipped].join(separator);
}
