import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createChannelRegistry, type ChannelDefinition } from "../../src/channels/channel.ts";
import { CHANNEL_TYPES } from "../../src/core/alert.ts";
import { ValidationError } from "../../src/core/validation-error.ts";

const registry = createChannelRegistry({
  allowPrivateTargets: false,
  webexBaseUrl: "https://webexapis.com/v1",
  twilioBaseUrl: "https://api.twilio.com",
  timeoutMs: 1000,
  lookup: async () => {
    throw new Error("parse must not resolve names");
  },
});

const SLACK_URL = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/SlackTokenXyz123";
const ACCOUNT_SID = `AC${"a1".repeat(16)}`;
const AUTH_TOKEN = "f".repeat(32);
const BOT_TOKEN = "NjQ5YzFkYTQtYmotBotTokenSecret_0123456789";

function problems(
  channel: ChannelDefinition,
  input: unknown,
  existing?: Parameters<ChannelDefinition["parse"]>[1],
) {
  try {
    channel.parse(input, existing);
  } catch (error) {
    assert.ok(error instanceof ValidationError, String(error));
    assert.equal(error.code, "ERR_VALIDATION");
    return Object.fromEntries(error.problems.map((p) => [p.field, p.reason]));
  }
  assert.fail("parse accepted the input");
}

describe("channel registry", () => {
  it("has one definition per channel type", () => {
    assert.deepEqual(Object.keys(registry).sort(), [...CHANNEL_TYPES].sort());
    for (const type of CHANNEL_TYPES) assert.equal(registry[type].type, type);
  });

  it("rejects a body that is not an object, and unknown fields by name", () => {
    for (const type of CHANNEL_TYPES) {
      assert.deepEqual(Object.keys(problems(registry[type], [])), ["body"], type);
      assert.ok("colour" in problems(registry[type], { colour: "red" }), type);
    }
  });
});

describe("webhook channel parse", () => {
  it("generates a signing secret once and stores the URL as a secret", () => {
    const parsed = registry.webhook.parse({ url: "https://hooks.example.com/relay?token=abc" });
    assert.deepEqual(parsed.settings, {});
    assert.equal(parsed.secrets.url, "https://hooks.example.com/relay?token=abc");
    assert.match(parsed.secrets.signingSecret!, /^whsec_/);
    assert.deepEqual(parsed.generatedSecrets, { signingSecret: parsed.secrets.signingSecret });
    const updated = registry.webhook.parse({}, parsed);
    assert.equal(updated.secrets.signingSecret, parsed.secrets.signingSecret);
    assert.equal(updated.secrets.url, parsed.secrets.url);
    assert.equal(updated.generatedSecrets, undefined);
  });

  it("takes a given signing secret and names every bad field", () => {
    const given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert.equal(
      registry.webhook.parse({ url: "https://h.example.com/", signingSecret: given }).secrets.signingSecret,
      given,
    );
    const bad = problems(registry.webhook, {
      url: "http://127.0.0.1/",
      signingSecret: "secret-but-wrong-form",
    });
    assert.deepEqual(Object.keys(bad).sort(), ["signingSecret", "url"]);
    assert.match(bad.url!, /https/);
    assert.match(bad.signingSecret!, /whsec_/);
    assert.ok(!JSON.stringify(bad).includes("secret-but-wrong-form"));
    assert.deepEqual(Object.keys(problems(registry.webhook, {})), ["url"]);
    assert.match(problems(registry.webhook, { url: "https://169.254.169.254/latest" }).url!, /link-local/);
  });

  it("describes the URL by its origin only", () => {
    const parsed = registry.webhook.parse({ url: "https://hooks.example.com:8443/relay?token=abc" });
    const view = registry.webhook.describe({ id: "ch_1", type: "webhook", ...parsed });
    assert.deepEqual(view, { urlOrigin: "https://hooks.example.com:8443", hasSigningSecret: true });
  });
});

describe("teams and slack channel parse", () => {
  it("keeps the URL secret and shows its origin", () => {
    for (const type of ["teams", "slack"] as const) {
      const parsed = registry[type].parse({ url: SLACK_URL });
      assert.deepEqual(parsed, { settings: {}, secrets: { url: SLACK_URL } });
      const view = registry[type].describe({ id: "ch_1", type, ...parsed });
      assert.deepEqual(view, { urlOrigin: "https://hooks.slack.com", hasUrl: true });
      assert.ok(!JSON.stringify(view).includes("SlackTokenXyz123"));
      assert.deepEqual(registry[type].parse({}, parsed).secrets, { url: SLACK_URL });
      assert.match(problems(registry[type], { url: "https://localhost/x" }).url!, /loopback/);
    }
  });
});

describe("email channel parse", () => {
  const valid = {
    host: "smtp.example.com",
    security: "starttls",
    username: "relay",
    password: "Sm7pPassw0rd",
    from: "relay@example.com",
    to: ["desk@example.com", " oncall@example.com ", "desk@example.com"],
  };

  it("parses settings, defaults the port by security and keeps the password secret", () => {
    const parsed = registry.email.parse(valid);
    assert.deepEqual(parsed.settings, {
      host: "smtp.example.com",
      port: 587,
      security: "starttls",
      username: "relay",
      from: "relay@example.com",
      to: ["desk@example.com", "oncall@example.com"],
    });
    assert.deepEqual(parsed.secrets, { password: "Sm7pPassw0rd" });
    assert.equal(registry.email.parse({ ...valid, security: "tls" }).settings.port, 465);
    assert.equal(registry.email.parse({ ...valid, port: 2525 }).settings.port, 2525);
    const view = registry.email.describe({ id: "ch_1", type: "email", ...parsed });
    assert.equal(view.hasPassword, true);
    assert.ok(!JSON.stringify(view).includes("Sm7pPassw0rd"));
  });

  it("allows private and loopback mail relays but not link-local or unspecified addresses", () => {
    assert.equal(registry.email.parse({ ...valid, host: "10.0.0.25" }).settings.host, "10.0.0.25");
    assert.equal(registry.email.parse({ ...valid, host: "127.0.0.1" }).settings.host, "127.0.0.1");
    assert.match(problems(registry.email, { ...valid, host: "169.254.169.254" }).host!, /link-local/);
    assert.match(problems(registry.email, { ...valid, host: "0.0.0.0" }).host!, /unspecified/);
  });

  it("names every bad field at once", () => {
    const bad = problems(registry.email, {
      host: "bad host!",
      port: 70000,
      security: "ssl",
      password: "x",
      from: "not-an-address",
      to: ["ok@example.com", "nope", 3],
    });
    assert.deepEqual(Object.keys(bad).sort(), ["from", "host", "password", "port", "security", "to"]);
    assert.match(bad.to!, /entries 2, 3 of 3/);
    assert.match(bad.password!, /needs a username/);
    assert.ok(!bad.to!.includes("nope"));
  });

  it("refuses a password over a connection without TLS", () => {
    assert.match(problems(registry.email, { ...valid, security: "none" }).password!, /in clear/);
    const plain = registry.email.parse({ ...valid, security: "none", username: null, password: null });
    assert.deepEqual(plain.secrets, {});
    assert.equal(plain.settings.port, 25);
    assert.equal(plain.settings.username, undefined);
  });

  it("keeps stored values on update, password included, and clears with null", () => {
    const stored = registry.email.parse(valid);
    const updated = registry.email.parse({ to: ["other@example.com"] }, stored);
    assert.deepEqual(updated.settings.to, ["other@example.com"]);
    assert.equal(updated.settings.host, "smtp.example.com");
    assert.deepEqual(updated.secrets, { password: "Sm7pPassw0rd" });
    const cleared = registry.email.parse({ username: null }, stored);
    assert.equal(cleared.settings.username, undefined);
    assert.deepEqual(cleared.secrets, {});
  });
});

describe("webex channel parse", () => {
  it("parses room id and bot token, and never shows the token", () => {
    const parsed = registry.webex.parse({ roomId: "Y2lzY29zcGFyazovL3VzL1JPT00vYWJj", botToken: BOT_TOKEN });
    assert.deepEqual(parsed.settings, { roomId: "Y2lzY29zcGFyazovL3VzL1JPT00vYWJj" });
    assert.deepEqual(parsed.secrets, { botToken: BOT_TOKEN });
    const view = registry.webex.describe({ id: "ch_1", type: "webex", ...parsed });
    assert.deepEqual(view, { roomId: "Y2lzY29zcGFyazovL3VzL1JPT00vYWJj", hasBotToken: true });
    const bad = problems(registry.webex, { roomId: "x y", botToken: "short" });
    assert.deepEqual(Object.keys(bad).sort(), ["botToken", "roomId"]);
    assert.ok(!JSON.stringify(bad).includes("short"));
  });
});

describe("sms channel parse", () => {
  const valid = {
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    from: "+15005550006",
    to: ["+15551234567"],
  };

  it("parses a Twilio sender and E.164 recipients", () => {
    const parsed = registry.sms.parse(valid);
    assert.deepEqual(parsed.settings, {
      accountSid: ACCOUNT_SID,
      from: "+15005550006",
      to: ["+15551234567"],
    });
    assert.deepEqual(parsed.secrets, { authToken: AUTH_TOKEN });
    assert.equal(registry.sms.describe({ id: "ch_1", type: "sms", ...parsed }).hasAuthToken, true);
  });

  it("takes a messaging service instead of a number, replacing the stored sender", () => {
    const stored = registry.sms.parse(valid);
    const service = `MG${"0".repeat(32)}`;
    const updated = registry.sms.parse({ messagingServiceSid: service }, stored);
    assert.deepEqual(updated.settings, {
      accountSid: ACCOUNT_SID,
      messagingServiceSid: service,
      to: ["+15551234567"],
    });
    assert.deepEqual(updated.secrets, { authToken: AUTH_TOKEN });
  });

  it("names every bad field", () => {
    const bad = problems(registry.sms, {
      accountSid: "AC123",
      authToken: "!",
      from: "+15005550006",
      messagingServiceSid: `MG${"0".repeat(32)}`,
      to: ["5551234567"],
    });
    assert.deepEqual(Object.keys(bad).sort(), [
      "accountSid",
      "authToken",
      "from",
      "messagingServiceSid",
      "to",
    ]);
    assert.deepEqual(
      Object.keys(problems(registry.sms, { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN })).sort(),
      ["from", "to"],
    );
  });
});
