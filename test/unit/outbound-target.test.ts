import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  classifyAddress,
  describeAddressCategory,
  type AddressCategory,
} from "../../src/core/outbound-target.ts";

function category(address: string): AddressCategory | undefined {
  return classifyAddress(address)?.category;
}

describe("classifyAddress", () => {
  it("classifies every IPv4 special-purpose range", () => {
    const cases: [string, AddressCategory][] = [
      ["0.0.0.0", "unspecified"],
      ["0.1.2.3", "unspecified"],
      ["10.0.0.1", "private"],
      ["10.255.255.255", "private"],
      ["100.64.0.1", "cgnat"],
      ["100.127.255.254", "cgnat"],
      ["127.0.0.1", "loopback"],
      ["127.255.0.9", "loopback"],
      ["169.254.169.254", "link_local"],
      ["172.16.0.1", "private"],
      ["172.31.255.255", "private"],
      ["192.0.0.8", "reserved"],
      ["192.0.2.10", "documentation"],
      ["192.88.99.1", "reserved"],
      ["192.168.1.1", "private"],
      ["198.18.0.1", "reserved"],
      ["198.51.100.7", "documentation"],
      ["203.0.113.9", "documentation"],
      ["224.0.0.251", "multicast"],
      ["239.255.255.250", "multicast"],
      ["240.0.0.1", "reserved"],
      ["255.255.255.255", "broadcast"],
    ];
    for (const [address, expected] of cases) assert.equal(category(address), expected, address);
  });

  it("treats the neighbours of private ranges as public", () => {
    for (const address of [
      "9.255.255.255",
      "11.0.0.0",
      "100.63.255.255",
      "100.128.0.0",
      "126.255.255.255",
      "128.0.0.0",
      "169.253.255.255",
      "169.255.0.0",
      "172.15.255.255",
      "172.32.0.0",
      "192.167.255.255",
      "192.169.0.0",
      "223.255.255.255",
      "8.8.8.8",
      "93.184.215.14",
    ]) {
      assert.equal(category(address), "public", address);
    }
  });

  it("classifies IPv6 special ranges and allows global unicast", () => {
    const cases: [string, AddressCategory][] = [
      ["::", "unspecified"],
      ["::1", "loopback"],
      ["0:0:0:0:0:0:0:1", "loopback"],
      ["fe80::1", "link_local"],
      ["fe80::1%eth0", "link_local"],
      ["febf:ffff::1", "link_local"],
      ["fec0::1", "reserved"],
      ["fc00::1", "unique_local"],
      ["fd12:3456:789a::1", "unique_local"],
      ["ff02::1", "multicast"],
      ["2001:db8::1", "documentation"],
      ["3fff::1", "documentation"],
      ["2001::1", "reserved"],
      ["2001:1ff::1", "reserved"],
      ["64:ff9b:1::1", "private"],
      ["100::1", "reserved"],
      ["::2", "reserved"],
      ["4000::1", "reserved"],
      ["2606:4700:4700::1111", "public"],
      ["2a00:1450:4001:80b::200e", "public"],
    ];
    for (const [address, expected] of cases) assert.equal(category(address), expected, address);
  });

  it("classifies IPv6 forms that carry an IPv4 address by that address", () => {
    const cases: [string, AddressCategory, string][] = [
      ["::ffff:127.0.0.1", "loopback", "127.0.0.1"],
      ["::ffff:7f00:1", "loopback", "127.0.0.1"],
      ["::FFFF:169.254.169.254", "link_local", "169.254.169.254"],
      ["0:0:0:0:0:ffff:a00:1", "private", "10.0.0.1"],
      ["::ffff:8.8.8.8", "public", "8.8.8.8"],
      ["64:ff9b::a00:1", "private", "10.0.0.1"],
      ["64:ff9b::7f00:1", "loopback", "127.0.0.1"],
      ["64:ff9b::808:808", "public", "8.8.8.8"],
      ["2002:7f00:1::1", "loopback", "127.0.0.1"],
      ["2002:a9fe:a9fe::", "link_local", "169.254.169.254"],
      ["2002:808:808::1", "public", "8.8.8.8"],
    ];
    for (const [address, expected, embedded] of cases) {
      assert.deepEqual(classifyAddress(address), { category: expected, embeddedIpv4: embedded }, address);
    }
    assert.deepEqual(classifyAddress("127.0.0.1"), { category: "loopback", embeddedIpv4: null });
  });

  it("returns null for text that is not an address", () => {
    for (const text of [
      "",
      "localhost",
      "example.com",
      "127.1",
      "0177.0.0.1",
      "0x7f.0.0.1",
      "1.2.3.4.5",
      ":::1",
    ]) {
      assert.equal(classifyAddress(text), null, text);
    }
  });

  it("describes every category in words", () => {
    assert.match(describeAddressCategory("link_local"), /169\.254\.169\.254/);
    assert.equal(describeAddressCategory("loopback"), "a loopback address");
  });
});
