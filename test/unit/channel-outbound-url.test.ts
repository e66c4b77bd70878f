import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseOutboundUrl } from "../../src/channels/outbound-url.ts";

function reason(raw: unknown, allowPrivate = false): string {
  const result = parseOutboundUrl(raw, allowPrivate);
  assert.equal(result.ok, false, `${String(raw)} should be refused`);
  return result.ok ? "" : result.reason;
}

describe("parseOutboundUrl", () => {
  it("accepts public https URLs, query strings included (Teams Workflows sign theirs)", () => {
    const url =
      "https://prod-12.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s3cr3t";
    const result = parseOutboundUrl(url, false);
    assert.ok(result.ok);
    assert.equal(result.url.hostname, "prod-12.westus.logic.azure.com");
    assert.ok(parseOutboundUrl("https://hooks.slack.com/services/T0/B0/x", false).ok);
    assert.ok(parseOutboundUrl("https://[2606:4700:4700::1111]/hook", false).ok);
    assert.ok(parseOutboundUrl("https://8.8.8.8/hook", false).ok);
  });

  it("refuses every literal internal target of test plan B24, in each spelling", () => {
    const targets = [
      "127.0.0.1",
      "localhost",
      "LOCALHOST.",
      "api.localhost",
      "[::1]",
      "0.0.0.0",
      "169.254.169.254",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.0.10",
      "100.64.0.1",
      "[fc00::1]",
      "[::ffff:127.0.0.1]",
      "[::ffff:a9fe:a9fe]",
      "2130706433",
      "0177.0.0.1",
      "0x7f.1",
      "127.1",
      "127。0。0。1",
      "[64:ff9b::7f00:1]",
    ];
    for (const host of targets) {
      assert.match(reason(`https://${host}/hook`), /refused unless RELAY_ALLOW_PRIVATE_TARGETS/, host);
    }
    assert.match(reason("https://169.254.169.254/latest/meta-data/"), /link-local/);
  });

  it("refuses a zone-scoped link-local address as unparseable", () => {
    assert.match(reason("https://[fe80::1%25lo]/"), /absolute https URL/);
  });

  it("refuses other schemes, and http unless private targets are allowed (B28)", () => {
    for (const url of [
      "file:///etc/passwd",
      "gopher://x/",
      "ftp://example.com/",
      "data:,x",
      "javascript:alert(1)",
      "ws://example.com/",
    ]) {
      assert.match(reason(url), /must be an https URL/, url);
    }
    assert.match(reason("http://example.com/hook"), /https.*RELAY_ALLOW_PRIVATE_TARGETS/);
    assert.ok(parseOutboundUrl("http://127.0.0.1:8080/hook", true).ok);
    assert.match(reason("ftp://127.0.0.1/", true), /http or https/);
  });

  it("refuses parser tricks: credentials in the authority and fragments (B29)", () => {
    assert.match(reason("https://allowed.example@127.0.0.1/"), /credentials/);
    assert.match(reason("https://user:pw@hooks.example.com/"), /credentials/);
    assert.match(reason("https://127.0.0.1#@allowed.example/"), /fragment/);
    assert.match(reason("https:\\\\127.0.0.1\\hook"), /loopback/);
  });

  it("refuses non-strings, empty and overlong values, without repeating the value", () => {
    assert.match(reason(undefined), /absolute https URL/);
    assert.match(reason(42), /absolute https URL/);
    assert.match(reason("   "), /absolute https URL/);
    assert.match(reason("not a url"), /absolute https URL/);
    assert.match(reason(`https://example.com/${"a".repeat(2100)}`), /at most 2048/);
    const secretUrl = "https://user:TopSecretToken@hooks.example.com/";
    assert.ok(!reason(secretUrl).includes("TopSecretToken"));
  });

  it("allows every address when private targets are allowed", () => {
    assert.ok(parseOutboundUrl("https://169.254.169.254/", true).ok);
    assert.ok(parseOutboundUrl("http://localhost:3000/", true).ok);
  });
});
