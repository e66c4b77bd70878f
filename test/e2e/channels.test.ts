// Every alert channel against real local receivers: HTTP servers standing in for a webhook endpoint, Teams
// Workflows, Slack, Webex and Twilio, and a real SMTP server. Asserts on what arrived on the wire and on the
// outcome the outbox would act on.
import assert from "node:assert/strict";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTcpServer, type AddressInfo, type Server } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import {
  createChannelRegistry,
  type ChannelDefinition,
  type ChannelRecord,
  type ChannelRegistryOptions,
  type HostLookup,
} from "../../src/channels/channel.ts";
import { SMS_MAX_LENGTH } from "../../src/channels/sms-body.ts";
import type { AlertMessage, ChannelSendResult, ChannelType } from "../../src/core/alert.ts";
import type { Emergency } from "../../src/core/emergency.ts";
import { ValidationError } from "../../src/core/validation-error.ts";
import { createLocalCa } from "../../emulator/tls/local-ca.ts";
import { startHttpReceiver, type HttpReceiver } from "../helpers/channel-receivers.ts";
import { startSmtpReceiver, type SmtpReceiver } from "../helpers/smtp-receiver.ts";

const ACK = "https://relay.contoso.com/ack/ack_7Yq2pN4s?alert=em_42";
const MAP = "https://www.openstreetmap.org/?mlat=47.6423&mlon=-122.1368#map=18/47.6423/-122.1368";
const TEAMS_LINK = "https://teams.microsoft.com/l/message/19%3A3f2a6c1e@thread.v2/1764234005000";
const ACCOUNT_SID = `AC${"0123456789abcdef".repeat(2)}`;
const AUTH_TOKEN = "TwilioAuthTokenSecret0123456789a";
const BOT_TOKEN = "WebexBotTokenSecret_ZmFrZS10b2tlbi1mb3ItdGVzdHM";
const SMTP_PASSWORD = "SmtpPassw0rd-Secret";
const ROOM_ID = "Y2lzY29zcGFyazovL3VzL1JPT00vZW1lcmdlbmN5";

const emergency: Emergency = {
  chatId: "19:3f2a6c1e0b9d4e7f8a1b2c3d4e5f6a7b@thread.v2",
  messageId: "1764234005000",
  messageTime: Date.parse("2026-03-01T09:00:05Z"),
  webUrl: TEAMS_LINK,
  caller: {
    id: "6e5b7f0a-1c2d-4e3f-9a8b-7c6d5e4f3a2b",
    displayName: "Adele Vance",
    userPrincipalName: "AdeleV@contoso.com",
  },
  dialString: "911",
  isTest: false,
  location: {
    raw: "Building 4 <Floor 2> & Lab",
    place: "Building 4 <Floor 2> & Lab",
    civicAddress: "1 Microsoft Way, Redmond, WA 98052",
    coordinates: { latitude: 47.6423, longitude: -122.1368 },
    quality: "known",
  },
  html: "<p>Adele Vance has placed an Emergency Call</p><p>Dialed: 911</p>",
  text: "Adele Vance has placed an Emergency Call\nDialed: 911",
};

const message: AlertMessage = {
  id: "dlv_01JQ7Z8K3M4N5P6Q7R8S9T0V1W",
  kind: "emergency",
  severity: "critical",
  orgId: "org_0123456789abcdef",
  orgName: "Contoso",
  emergencyId: "em_42",
  title: "EMERGENCY: Adele Vance dialed 911",
  text: "Adele Vance dialed 911 from Building 4 <Floor 2> & Lab, 1 Microsoft Way, Redmond, WA 98052. Call back and send help.",
  fields: [
    { label: "Caller", value: "Adele Vance (AdeleV@contoso.com)" },
    { label: "Dialed", value: "911" },
    { label: "Location", value: "Building 4 <Floor 2> & Lab" },
    { label: "Address", value: "1 Microsoft Way, Redmond, WA 98052" },
    { label: "Location quality", value: "known" },
    { label: "Time", value: "2026-03-01 09:00:05 UTC" },
  ],
  acknowledgeUrl: ACK,
  mapUrl: MAP,
  teamsUrl: TEAMS_LINK,
  occurredAt: Date.parse("2026-03-01T09:00:05Z"),
  isTestCall: false,
  emergency,
};

let webhook: HttpReceiver;
let teams: HttpReceiver;
let slack: HttpReceiver;
let webex: HttpReceiver;
let twilio: HttpReceiver;
let canary: HttpReceiver;
let smtp: SmtpReceiver;
let registry: Record<ChannelType, ChannelDefinition>;
/** Every result and API view of this file, checked for secrets at the end. */
const seen: unknown[] = [];
const secrets: string[] = [AUTH_TOKEN, BOT_TOKEN, SMTP_PASSWORD];

/** Test names resolve to the local receivers; anything else does not exist. */
function mapLookup(names: Record<string, string[] | (() => string[])>): HostLookup {
  return async (hostname) => {
    const entry = names[hostname];
    const addresses = typeof entry === "function" ? entry() : entry;
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }) as const);
  };
}

function makeRegistry(overrides: Partial<ChannelRegistryOptions> = {}) {
  return createChannelRegistry({
    allowPrivateTargets: true,
    webexBaseUrl: `${webex.url}/v1`,
    twilioBaseUrl: twilio.url,
    timeoutMs: 5000,
    lookup: mapLookup({ "webhook.test": ["127.0.0.1"], "smtp.test": ["127.0.0.1"] }),
    extraCaPem: smtp.caPem,
    ...overrides,
  });
}

function record(type: ChannelType, input: unknown, channels = registry): ChannelRecord {
  const parsed = channels[type].parse(input);
  const channel = { id: `ch_${type}`, type, settings: parsed.settings, secrets: parsed.secrets };
  seen.push(channels[type].describe(channel));
  for (const value of Object.values(parsed.secrets)) secrets.push(value);
  return channel;
}

async function send(
  channel: ChannelRecord,
  channels = registry,
  signal?: AbortSignal,
): Promise<ChannelSendResult> {
  const result = await channels[channel.type].send(message, channel, signal ? { signal } : {});
  seen.push(result);
  return result;
}

before(async () => {
  [webhook, teams, slack, webex, twilio, canary] = await Promise.all([
    startHttpReceiver(),
    startHttpReceiver({ defaultAnswer: { status: 202 } }),
    startHttpReceiver({
      defaultAnswer: { status: 200, headers: { "content-type": "text/plain" }, body: "ok" },
    }),
    startHttpReceiver({
      defaultAnswer: { status: 200, headers: { "content-type": "application/json" }, body: '{"id":"msg_1"}' },
    }),
    startHttpReceiver({
      defaultAnswer: {
        status: 201,
        headers: { "content-type": "application/json" },
        body: '{"sid":"SM0123","status":"queued"}',
      },
    }),
    startHttpReceiver(),
  ]);
  smtp = await startSmtpReceiver({
    security: "starttls",
    auth: { username: "relay", password: SMTP_PASSWORD },
    dnsNames: ["smtp.test"],
  });
  registry = makeRegistry();
});

after(async () => {
  await Promise.all([webhook, teams, slack, webex, twilio, canary].map((r) => r.close()));
  await smtp.close();
});

beforeEach(() => {
  for (const receiver of [webhook, teams, slack, webex, twilio, canary]) receiver.reset();
  smtp.reset();
});

describe("delivery to each channel type", () => {
  test("webhook: signed JSON that verifies with the Standard Webhooks library, to the address that was checked", async () => {
    const channel = record("webhook", {
      url: `http://webhook.test:${webhook.port}/hooks/relay?source=teams`,
    });
    const result = await send(channel);
    assert.equal(result.outcome, "delivered", result.detail);
    assert.equal(result.status, 200);

    const [request] = webhook.requests;
    assert.ok(request);
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/hooks/relay");
    assert.equal(request.query.get("source"), "teams");
    // Connected to 127.0.0.1 through the injected resolver, while the Host header keeps the configured name.
    assert.equal(request.headers.host, `webhook.test:${webhook.port}`);
    assert.equal(request.headers["content-type"], "application/json");
    assert.equal(request.headers["webhook-id"], message.id);
    assert.ok(Math.abs(Number(request.headers["webhook-timestamp"]) - Date.now() / 1000) < 30);
    assert.match(String(request.headers["webhook-signature"]), /^v1,[A-Za-z0-9+/]+=*$/);

    const headers = {
      "webhook-id": String(request.headers["webhook-id"]),
      "webhook-timestamp": String(request.headers["webhook-timestamp"]),
      "webhook-signature": String(request.headers["webhook-signature"]),
    };
    const verified = new Webhook(channel.secrets.signingSecret!).verify(request.body, headers) as any;
    assert.equal(verified.type, "emergency.detected");
    assert.equal(verified.data.emergency.caller.displayName, "Adele Vance");
    assert.equal(verified.data.emergency.location.civicAddress, "1 Microsoft Way, Redmond, WA 98052");
    assert.deepEqual(verified.data.emergency.location.coordinates, {
      latitude: 47.6423,
      longitude: -122.1368,
    });
    assert.equal(verified.data.acknowledgeUrl, ACK);

    // The check can fail: another secret, or one changed byte of the body, does not verify.
    const other = new Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert.throws(() => other.verify(request.body, headers));
    const mine = new Webhook(channel.secrets.signingSecret!);
    assert.throws(() => mine.verify(request.body.replace("Adele", "Adelf"), headers));

    // A retry carries the same webhook-id, so the receiver can dedupe.
    await send(channel);
    assert.equal(webhook.requests[1]!.headers["webhook-id"], message.id);
    assert.doesNotThrow(() =>
      mine.verify(webhook.requests[1]!.body, {
        "webhook-id": String(webhook.requests[1]!.headers["webhook-id"]),
        "webhook-timestamp": String(webhook.requests[1]!.headers["webhook-timestamp"]),
        "webhook-signature": String(webhook.requests[1]!.headers["webhook-signature"]),
      }),
    );
  });

  test("email: STARTTLS with AUTH to a real SMTP server, both parts with the links, HTML escaped", async () => {
    const channel = record("email", {
      host: "smtp.test",
      port: smtp.port,
      security: "starttls",
      username: "relay",
      password: SMTP_PASSWORD,
      from: "relay@contoso.com",
      to: ["security-desk@contoso.com", "oncall@contoso.com"],
    });
    const result = await send(channel);
    assert.equal(result.outcome, "delivered", result.detail);
    assert.match(result.detail!, /^accepted for 2 recipient\(s\): 250/);

    const [mail] = await smtp.waitForMessages(1);
    assert.ok(mail);
    assert.equal(mail.user, "relay");
    assert.equal(mail.secure, true);
    assert.equal(mail.envelope.from, "relay@contoso.com");
    assert.deepEqual(mail.envelope.to, ["security-desk@contoso.com", "oncall@contoso.com"]);
    assert.equal(mail.parsed.subject, "EMERGENCY: Adele Vance dialed 911");
    assert.equal(mail.parsed.headers.get("auto-submitted"), "auto-generated");
    assert.equal(mail.parsed.messageId, `<alert-${message.id}@contoso.com>`);

    const text = mail.parsed.text ?? "";
    const html = typeof mail.parsed.html === "string" ? mail.parsed.html : "";
    for (const part of [text, html]) {
      assert.ok(part.includes("Adele Vance"), "caller");
      assert.ok(part.includes("1 Microsoft Way, Redmond, WA 98052"), "address");
    }
    assert.ok(text.includes(`Acknowledge: ${ACK}`));
    assert.ok(text.includes(`Open map: ${MAP}`));
    assert.ok(text.includes("Building 4 <Floor 2> & Lab"));
    assert.ok(html.includes(`href="${ACK.replace(/&/g, "&amp;")}"`));
    assert.ok(html.includes(`href="${MAP.replace(/&/g, "&amp;")}"`));
    assert.ok(html.includes("Building 4 &lt;Floor 2&gt; &amp; Lab"));
    assert.ok(!html.includes("<Floor 2>"));
  });

  test("Teams: a Workflows message with an Adaptive Card, 202 counted as delivered", async () => {
    const url = `${teams.url}/workflows/6f1e/triggers/manual/paths/invoke?api-version=2016-06-01&sig=TeamsSigSecret123`;
    const result = await send(record("teams", { url }));
    assert.deepEqual(result, { outcome: "delivered", status: 202, detail: "HTTP 202 Accepted" });
    const [request] = teams.requests;
    assert.equal(request!.query.get("sig"), "TeamsSigSecret123");
    const attachment = request!.json.attachments[0];
    assert.equal(request!.json.type, "message");
    assert.equal(attachment.contentType, "application/vnd.microsoft.card.adaptive");
    assert.equal(attachment.content.version, "1.4");
    assert.equal(attachment.content.body[0].text, "EMERGENCY: Adele Vance dialed 911");
    const facts = attachment.content.body.find((b: any) => b.type === "FactSet").facts;
    assert.deepEqual(facts[0], { title: "Caller", value: "Adele Vance (AdeleV@contoso.com)" });
    assert.deepEqual(facts[2], { title: "Location", value: "Building 4 <Floor 2> & Lab" });
    assert.deepEqual(
      attachment.content.actions.map((a: any) => [a.type, a.title, a.url]),
      [
        ["Action.OpenUrl", "Acknowledge", ACK],
        ["Action.OpenUrl", "Open map", MAP],
        ["Action.OpenUrl", "Open in Teams", TEAMS_LINK],
      ],
    );
  });

  test("Slack: Block Kit with caller, location and an acknowledge button", async () => {
    const result = await send(
      record("slack", { url: `${slack.url}/services/T0AAA/B0BBB/SlackHookSecret42` }),
    );
    assert.equal(result.outcome, "delivered", result.detail);
    const body = slack.requests[0]!.json;
    assert.match(body.text, /^EMERGENCY: Adele Vance dialed 911/);
    assert.equal(body.blocks[0].type, "header");
    const fieldTexts = body.blocks.flatMap((b: any) => (b.fields ?? []).map((f: any) => f.text));
    assert.ok(fieldTexts.includes("*Caller*\nAdele Vance (AdeleV@contoso.com)"));
    assert.ok(fieldTexts.includes("*Location*\nBuilding 4 &lt;Floor 2&gt; &amp; Lab"));
    const buttons = body.blocks.find((b: any) => b.type === "actions").elements;
    assert.deepEqual(buttons[0], {
      type: "button",
      action_id: "acknowledge",
      text: { type: "plain_text", text: "Acknowledge" },
      url: ACK,
      style: "danger",
    });
  });

  test("Webex: POST /messages with the bot token as Bearer, room id and markdown", async () => {
    const result = await send(record("webex", { roomId: ROOM_ID, botToken: BOT_TOKEN }));
    assert.equal(result.outcome, "delivered", result.detail);
    const [request] = webex.requests;
    assert.equal(request!.path, "/v1/messages");
    assert.equal(request!.headers.authorization, `Bearer ${BOT_TOKEN}`);
    assert.equal(request!.json.roomId, ROOM_ID);
    assert.ok(request!.json.markdown.includes("**EMERGENCY: Adele Vance dialed 911**"));
    assert.ok(request!.json.markdown.includes(`[Acknowledge](${ACK})`));
    assert.ok(request!.json.markdown.includes("Building 4 \\<Floor 2\\> & Lab"));
    assert.ok(request!.json.text.includes(`Acknowledge: ${ACK}`));
  });

  test("SMS: one Twilio request per number, Basic auth, form-encoded, short body with the ack link", async () => {
    const channel = record("sms", {
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      from: "+15005550006",
      to: ["+15551230001", "+15551230002"],
    });
    const result = await send(channel);
    assert.deepEqual(result, { outcome: "delivered", status: 201, detail: "sent to 2 number(s)" });
    assert.equal(twilio.requests.length, 2);
    const expectedAuth = `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString("base64")}`;
    for (const request of twilio.requests) {
      assert.equal(request.path, `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
      assert.equal(request.headers.authorization, expectedAuth);
      assert.equal(request.form?.get("From"), "+15005550006");
      const body = request.form?.get("Body") ?? "";
      assert.ok(Array.from(body).length <= SMS_MAX_LENGTH);
      assert.ok(body.startsWith("Adele Vance dialed 911 from Building 4"));
      assert.ok(body.endsWith(`\nAck: ${ACK}`));
    }
    assert.deepEqual(twilio.requests.map((r) => r.form?.get("To")).sort(), ["+15551230001", "+15551230002"]);
  });

  test("SMS: a refused number fails the delivery and is named by its last digits only", async () => {
    const channel = record("sms", {
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      messagingServiceSid: `MG${"0".repeat(32)}`,
      to: ["+15551230001", "+15005550001"],
    });
    twilio.respond = (request) =>
      request.form?.get("To") === "+15005550001"
        ? {
            status: 400,
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              code: 21211,
              message: "The 'To' number is not a valid phone number.",
              status: 400,
            }),
          }
        : undefined;
    const result = await send(channel);
    assert.equal(result.outcome, "failed");
    assert.equal(
      result.detail,
      "sent to 1 of 2 numbers; …0001: HTTP 400 Bad Request: 21211 The 'To' number is not a valid phone number.",
    );
    assert.ok(twilio.requests.every((r) => r.form?.get("MessagingServiceSid") === `MG${"0".repeat(32)}`));
  });
});

test("https: the certificate is checked against the configured name while connecting to the checked address", async () => {
  const ca = await createLocalCa({ dnsNames: ["hooks.test"], ipAddresses: [] });
  const bodies: string[] = [];
  const server = createHttpsServer({ cert: ca.certPem, key: ca.keyPem }, (req, res) => {
    req.on("data", (chunk: Buffer) => bodies.push(chunk.toString("utf8")));
    req.on("end", () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const lookup = mapLookup({ "hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"] });
    const trusting = makeRegistry({ lookup, extraCaPem: ca.caCertPem });
    const delivered = await send(
      record("webhook", { url: `https://hooks.test:${port}/in` }, trusting),
      trusting,
    );
    assert.deepEqual(delivered, { outcome: "delivered", status: 204, detail: "HTTP 204 No Content" });
    assert.equal(JSON.parse(bodies.join("")).data.id, message.id);

    const wrongName = await send(
      record("webhook", { url: `https://other.test:${port}/in` }, trusting),
      trusting,
    );
    assert.equal(wrongName.outcome, "retry");
    assert.match(wrongName.detail!, /ERR_TLS_CERT_ALTNAME_INVALID/);
    const untrusting = makeRegistry({ lookup });
    const untrusted = await send(
      record("webhook", { url: `https://hooks.test:${port}/in` }, untrusting),
      untrusting,
    );
    assert.equal(untrusted.outcome, "retry");
    assert.match(untrusted.detail!, /TLS certificate/);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

describe("outbound target checks", () => {
  test("a literal private address is refused when the channel is configured", () => {
    const strict = makeRegistry({ allowPrivateTargets: false });
    for (const url of [
      `https://127.0.0.1:${webhook.port}/`,
      "https://[::1]/",
      "https://169.254.169.254/latest",
    ]) {
      assert.throws(
        () => strict.webhook.parse({ url }),
        (error: unknown) => error instanceof ValidationError && error.problems[0]?.field === "url",
        url,
      );
    }
    assert.throws(() => strict.slack.parse({ url: `${slack.url}/x` }), /must be an https URL/);
  });

  test("a name that resolves to a private address is refused at send time, without connecting", async () => {
    let rebound = false;
    const strict = makeRegistry({
      allowPrivateTargets: false,
      lookup: mapLookup({
        "internal.test": ["127.0.0.1"],
        "mixed.test": ["93.184.215.14", "10.0.0.5"],
        "v6.test": ["::1"],
        // Public while the admin saves the channel, loopback when the alert goes out (DNS rebinding).
        "rebind.test": () => (rebound ? ["127.0.0.1"] : ["93.184.215.14"]),
      }),
    });
    const results: Record<string, ChannelSendResult> = {};
    for (const host of ["internal.test", "mixed.test", "v6.test", "rebind.test"]) {
      const channel = record("webhook", { url: `https://${host}:${canary.port}/hook` }, strict);
      rebound = true;
      results[host] = await send(channel, strict);
    }
    assert.match(
      results["internal.test"]!.detail!,
      /ssrf_blocked.*internal\.test resolves to 127\.0\.0\.1.*loopback/,
    );
    assert.match(results["mixed.test"]!.detail!, /10\.0\.0\.5, a private network address/);
    assert.match(results["v6.test"]!.detail!, /::1, a loopback address/);
    assert.match(results["rebind.test"]!.detail!, /rebind\.test resolves to 127\.0\.0\.1/);
    for (const result of Object.values(results)) assert.equal(result.outcome, "failed");
    assert.equal(canary.connections, 0);
  });

  test("a stored http URL, a private Webex base URL and a metadata SMTP host are refused when not allowed", async () => {
    const strict = makeRegistry({
      allowPrivateTargets: false,
      lookup: mapLookup({ "metadata.test": ["169.254.169.254"] }),
    });
    const stale = { id: "ch_old", type: "teams" as const, settings: {}, secrets: { url: `${canary.url}/x` } };
    const teamsResult = await send(stale, strict);
    assert.equal(teamsResult.outcome, "failed");
    assert.match(teamsResult.detail!, /target refused: URL must be an https URL/);
    const webexResult = await send(record("webex", { roomId: ROOM_ID, botToken: BOT_TOKEN }, strict), strict);
    assert.equal(webexResult.outcome, "failed");
    assert.match(webexResult.detail!, /target refused/);
    const email = record(
      "email",
      {
        host: "metadata.test",
        port: smtp.port,
        security: "none",
        from: "relay@contoso.com",
        to: ["a@contoso.com"],
      },
      strict,
    );
    const emailResult = await send(email, strict);
    assert.equal(emailResult.outcome, "failed");
    assert.match(emailResult.detail!, /169\.254\.169\.254, a link-local address/);
    assert.equal(canary.connections + webex.connections, 0);
    assert.equal(smtp.messages.length, 0);
  });

  test("a private SMTP relay is allowed even when private HTTP targets are not", async () => {
    const strict = makeRegistry({ allowPrivateTargets: false });
    const channel = record(
      "email",
      {
        host: "smtp.test",
        port: smtp.port,
        security: "starttls",
        username: "relay",
        password: SMTP_PASSWORD,
        from: "relay@contoso.com",
        to: ["desk@contoso.com"],
      },
      strict,
    );
    const result = await send(channel, strict);
    assert.equal(result.outcome, "delivered", result.detail);
  });
});

describe("outcomes the outbox acts on", () => {
  test("a redirect is a failure and is not followed", async () => {
    const channel = record("webhook", { url: `${webhook.url}/hook` });
    webhook.queue({ status: 302, headers: { location: `${canary.url}/internal` } });
    const result = await send(channel);
    assert.equal(result.outcome, "failed");
    assert.equal(result.status, 302);
    assert.match(result.detail!, /redirects are not followed/);
    assert.equal(canary.requests.length, 0);
  });

  test("429 with Retry-After is a retry after that delay, in seconds or as an HTTP date", async () => {
    const now = Date.parse("2026-03-01T12:00:00Z");
    const fixed = makeRegistry({ now: () => now });
    const channel = record("slack", { url: `${slack.url}/services/T/B/SlackHookSecret42` }, fixed);
    slack.throttleNext("7");
    const seconds = await send(channel, fixed);
    assert.deepEqual(
      {
        outcome: seconds.outcome,
        status: seconds.status,
        wait: seconds.outcome === "retry" && seconds.retryAfterMs,
      },
      { outcome: "retry", status: 429, wait: 7000 },
    );
    slack.throttleNext("Sun, 01 Mar 2026 12:02:00 GMT");
    const date = await send(channel, fixed);
    assert.equal(date.outcome === "retry" && date.retryAfterMs, 120_000);
    assert.equal((await send(channel, fixed)).outcome, "delivered");
  });

  test("410 Gone tells the outbox to disable the channel", async () => {
    teams.goneNext();
    const result = await send(record("teams", { url: `${teams.url}/workflows/x?sig=TeamsSigSecret123` }));
    assert.equal(result.outcome, "gone");
    assert.equal(result.status, 410);
  });

  test("a receiver that fails and recovers: 503 is a retry, then delivered", async () => {
    const channel = record("webex", { roomId: ROOM_ID, botToken: BOT_TOKEN });
    webex.failNext(1, 503);
    const first = await send(channel);
    assert.equal(first.outcome, "retry");
    assert.equal(first.status, 503);
    assert.equal((await send(channel)).outcome, "delivered");
  });

  test("other 4xx are failures that quote the receiver, with secrets scrubbed", async () => {
    const url = `${slack.url}/services/T0AAA/B0BBB/SlackHookSecret42`;
    slack.queue({
      status: 403,
      headers: { "content-type": "text/plain" },
      body: "invalid_token for /services/T0AAA/B0BBB/SlackHookSecret42",
    });
    const result = await send(record("slack", { url }));
    assert.equal(result.outcome, "failed");
    assert.match(result.detail!, /^HTTP 403 Forbidden: invalid_token for /);
    assert.ok(!result.detail!.includes("SlackHookSecret42"), result.detail);
    webex.queue({
      status: 401,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: `The token ${BOT_TOKEN} is invalid`, trackingId: "t1" }),
    });
    const webexResult = await send(record("webex", { roomId: ROOM_ID, botToken: BOT_TOKEN }));
    assert.equal(webexResult.detail, "HTTP 401 Unauthorized: The token [redacted] is invalid");
  });

  test("a receiver slower than the timeout is a retry, and the attempt ends on time", async () => {
    const quick = makeRegistry({ timeoutMs: 300 });
    const channel = record("webhook", { url: `${webhook.url}/slow` }, quick);
    webhook.queue({ status: 200, delayMs: 3000 });
    const started = Date.now();
    const result = await send(channel, quick);
    assert.deepEqual(result, {
      outcome: "retry",
      status: null,
      retryAfterMs: null,
      detail: "timed out after 300 ms",
    });
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  });

  test("a closed port is a retry, and an abort from the caller ends the attempt as a retry", async () => {
    const closed = await closedPort();
    const refused = await send(record("teams", { url: `http://127.0.0.1:${closed}/x` }));
    assert.equal(refused.outcome, "retry");
    assert.match(refused.detail!, /connection refused/);
    const controller = new AbortController();
    webhook.queue({ status: 200, delayMs: 3000 });
    const pending = send(record("webhook", { url: `${webhook.url}/abort` }), registry, controller.signal);
    setTimeout(() => controller.abort(), 100);
    const aborted = await pending;
    assert.equal(aborted.outcome, "retry");
    assert.match(aborted.detail!, /aborted/);
  });
});

describe("SMTP outcomes", () => {
  const settings = () => ({
    host: "smtp.test",
    port: smtp.port,
    security: "starttls",
    username: "relay",
    password: SMTP_PASSWORD,
    from: "relay@contoso.com",
    to: ["desk@contoso.com", "oncall@contoso.com"],
  });

  test("a 451 deferral is a retry and a 550 refusal a failure", async () => {
    const channel = record("email", settings());
    smtp.failNext(1, 451);
    const deferred = await send(channel);
    assert.equal(deferred.outcome, "retry");
    assert.match(deferred.detail!, /451/);
    smtp.failNext(1, 550);
    const refused = await send(channel);
    assert.equal(refused.outcome, "failed");
    assert.match(refused.detail!, /550/);
    assert.equal(smtp.messages.length, 0);
  });

  test("a refused recipient fails the delivery while the other still gets the mail", async () => {
    smtp.refuseRecipient("oncall@contoso.com", 550);
    const result = await send(record("email", settings()));
    assert.equal(result.outcome, "failed");
    assert.equal(result.detail, "accepted for 1 of 2 recipients; 1 refused (550)");
    assert.deepEqual(smtp.messages[0]?.envelope.to, ["desk@contoso.com"]);
  });

  test("wrong credentials fail without retrying and without showing the password", async () => {
    const channel = record("email", { ...settings(), password: "Wrong-Passw0rd-Secret" });
    const result = await send(channel);
    assert.equal(result.outcome, "failed");
    assert.match(result.detail!, /authentication failed.*535/i);
  });

  test("implicit TLS against a server that expects it", async () => {
    const tlsServer = await startSmtpReceiver({ security: "tls", dnsNames: ["smtp.test"] });
    try {
      const channels = makeRegistry({ extraCaPem: tlsServer.caPem });
      const channel = record(
        "email",
        {
          host: "smtp.test",
          port: tlsServer.port,
          security: "tls",
          from: "relay@contoso.com",
          to: ["a@contoso.com"],
        },
        channels,
      );
      const result = await send(channel, channels);
      assert.equal(result.outcome, "delivered", result.detail);
      assert.equal(tlsServer.messages[0]?.secure, true);
    } finally {
      await tlsServer.close();
    }
  });

  test("an untrusted certificate, a closed port and a silent server are retries", async () => {
    const untrusting = makeRegistry({ extraCaPem: undefined as unknown as string });
    const untrusted = await send(record("email", settings(), untrusting), untrusting);
    assert.equal(untrusted.outcome, "retry");
    assert.match(untrusted.detail!, /^SMTP connection failed: TLS/);
    const closed = await closedPort();
    const refused = await send(record("email", { ...settings(), host: "127.0.0.1", port: closed }));
    assert.equal(refused.outcome, "retry");
    assert.match(refused.detail!, /^SMTP connection failed: connection refused \(ECONNREFUSED\)$/);

    const silent = createTcpServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const quick = makeRegistry({ timeoutMs: 300 });
      const port = (silent.address() as AddressInfo).port;
      const started = Date.now();
      const result = await send(record("email", { ...settings(), host: "127.0.0.1", port }, quick), quick);
      assert.equal(result.outcome, "retry");
      assert.match(result.detail!, /timed out/);
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    } finally {
      await closeServer(silent);
    }
  });
});

test("no secret appears in any result detail or API view of this file", () => {
  assert.ok(seen.length > 30, `only ${seen.length} results and views were collected`);
  const text = JSON.stringify(seen);
  const needles = [...new Set(secrets)].flatMap((secret) => {
    const parts = [secret];
    if (/^https?:/.test(secret)) {
      const url = new URL(secret);
      parts.push(url.pathname, ...url.searchParams.values());
    }
    return parts.filter((p) => p.length >= 8 && !/^\/(hooks|workflows|services|x|slow|abort)?$/.test(p));
  });
  for (const needle of needles)
    assert.ok(!text.includes(needle), `a result or view contains ${needle.slice(0, 6)}…`);
});

async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await closeServer(server);
  return port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
