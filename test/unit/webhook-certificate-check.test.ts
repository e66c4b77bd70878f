import assert from "node:assert/strict";
import { test } from "node:test";
import { createLocalCa } from "../../emulator/tls/local-ca.ts";
import { checkWebhookCertificate } from "../../src/webhook-certificate-check.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

test("a certificate naming every webhook host with time left passes", async () => {
  const ca = await createLocalCa({ dnsNames: ["relay.example.com", "*.hooks.example.com"], validDays: 90 });
  const result = checkWebhookCertificate(ca.certPem, [
    "https://relay.example.com",
    "https://contoso.hooks.example.com/base",
  ]);
  assert.equal(result.status, "pass", result.detail);
  assert.match(result.detail, /covers relay\.example\.com, contoso\.hooks\.example\.com/);
});

test("a host the certificate does not name fails, naming the host", async () => {
  const ca = await createLocalCa({ dnsNames: ["relay.example.com"], validDays: 90 });
  const result = checkWebhookCertificate(ca.certPem, [
    "https://relay.example.com",
    "https://other.example.org",
  ]);
  assert.equal(result.status, "fail");
  assert.match(result.detail, /does not cover other\.example\.org/);
  assert.match(result.fix!, /other\.example\.org/);
});

test("IP addresses are matched against the certificate's IP names", async () => {
  const ca = await createLocalCa({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validDays: 90 });
  assert.equal(checkWebhookCertificate(ca.certPem, ["https://127.0.0.1:8443"]).status, "pass");
  assert.equal(checkWebhookCertificate(ca.certPem, ["https://10.0.0.1"]).status, "fail");
});

test("under 30 days left warns; expired fails", async () => {
  const ca = await createLocalCa({ dnsNames: ["relay.example.com"], validDays: 10 });
  const warn = checkWebhookCertificate(ca.certPem, ["https://relay.example.com"]);
  assert.equal(warn.status, "warn");
  assert.match(warn.detail, /\d+ days left/);
  assert.match(warn.fix!, /renew/);
  const expired = checkWebhookCertificate(
    ca.certPem,
    ["https://relay.example.com"],
    Date.now() + 20 * DAY_MS,
  );
  assert.equal(expired.status, "fail");
  assert.match(expired.detail, /expired on/);
});

test("text that is not a certificate fails with the fix", () => {
  const result = checkWebhookCertificate("not a pem", ["https://relay.example.com"]);
  assert.equal(result.status, "fail");
  assert.match(result.fix!, /RELAY_TLS_CERT_FILE/);
});
