import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { alertLinks } from "../../src/channels/alert-links.ts";
import { emailContent, escapeHtml } from "../../src/channels/email-content.ts";
import { signWebhook } from "../../src/channels/sign-webhook.ts";
import { escapeSlack, slackMessage } from "../../src/channels/slack-message.ts";
import { SMS_MAX_LENGTH, smsBody } from "../../src/channels/sms-body.ts";
import { teamsCardMessage } from "../../src/channels/teams-card.ts";
import { testAlertMessage } from "../../src/channels/test-alert-message.ts";
import { webexMessage } from "../../src/channels/webex-message.ts";
import { webhookPayload } from "../../src/channels/webhook-payload.ts";
import { generateWebhookSecret, webhookSecretKey } from "../../src/channels/webhook-secret.ts";
import type { AlertMessage } from "../../src/core/alert.ts";

const ACK = "https://relay.example.com/ack/tok_123?x=1&y=2";
const MAP = "https://www.openstreetmap.org/?mlat=47.64&mlon=-122.13#map=18/47.64/-122.13";
const TEAMS = "https://teams.microsoft.com/l/message/19:abc@thread.v2/1764234005000";

function alert(overrides: Partial<AlertMessage> = {}): AlertMessage {
  return {
    id: "dlv_01",
    kind: "emergency",
    severity: "critical",
    orgId: "org_0123456789abcdef",
    orgName: "Contoso",
    emergencyId: "em_1",
    title: "Emergency call 911 from Adele Vance",
    text: "Adele Vance dialed 911.\nLocation: Building 4, Floor 2.",
    fields: [
      { label: "Caller", value: "Adele Vance <adele@contoso.com>" },
      { label: "Location", value: "[Click here](https://evil.example) & <b>bold</b>" },
    ],
    acknowledgeUrl: ACK,
    mapUrl: MAP,
    teamsUrl: TEAMS,
    occurredAt: Date.parse("2026-03-01T12:00:00Z"),
    isTestCall: false,
    emergency: null,
    ...overrides,
  };
}

describe("Standard Webhooks signature", () => {
  it("matches the specification's test vector", () => {
    const key = webhookSecretKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert.ok(key);
    assert.equal(
      signWebhook(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'),
      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    );
  });

  it("generates whsec_ secrets of 32 random bytes and refuses malformed ones", () => {
    const secret = generateWebhookSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(webhookSecretKey(secret)?.length, 32);
    assert.notEqual(generateWebhookSecret(), secret);
    for (const bad of [
      "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "whsec_",
      "whsec_c2hvcnQ=",
      "whsec_!!!!",
      `whsec_${"A".repeat(100)}`,
    ]) {
      assert.equal(webhookSecretKey(bad), null, bad);
    }
  });
});

describe("webhookPayload", () => {
  it("wraps the alert as type, timestamp and data", () => {
    const payload = webhookPayload(alert());
    assert.equal(payload.type, "emergency.detected");
    assert.equal(payload.timestamp, "2026-03-01T12:00:00.000Z");
    assert.equal(payload.data.id, "dlv_01");
    assert.equal(webhookPayload(alert({ kind: "escalation" })).type, "emergency.escalated");
    assert.equal(webhookPayload(alert({ kind: "operational" })).type, "operational.event");
    assert.equal(webhookPayload(alert({ kind: "test" })).type, "test");
  });
});

describe("alertLinks", () => {
  it("lists acknowledge, map and Teams links, dropping anything but http(s)", () => {
    assert.deepEqual(
      alertLinks(alert()).map((l) => l.kind),
      ["acknowledge", "map", "teams"],
    );
    const links = alertLinks(
      alert({ teamsUrl: "javascript:alert(1)", mapUrl: "not a url", acknowledgeUrl: null }),
    );
    assert.deepEqual(links, []);
  });
});

describe("teamsCardMessage", () => {
  it("builds a Workflows message with one Adaptive Card 1.4", () => {
    const message = teamsCardMessage(alert()) as any;
    assert.equal(message.type, "message");
    assert.equal(message.attachments.length, 1);
    assert.equal(message.attachments[0].contentType, "application/vnd.microsoft.card.adaptive");
    const card = message.attachments[0].content;
    assert.equal(card.type, "AdaptiveCard");
    assert.equal(card.version, "1.4");
    assert.equal(card.body[0].text, "Emergency call 911 from Adele Vance");
    assert.equal(card.body[0].color, "Attention");
    const facts = card.body.find((b: any) => b.type === "FactSet").facts;
    assert.deepEqual(facts[0], { title: "Caller", value: "Adele Vance <adele@contoso.com>" });
    assert.equal(facts[1].value, "\\[Click here\\](https://evil.example) & <b>bold</b>");
    assert.deepEqual(
      card.actions.map((a: any) => [a.type, a.title, a.url]),
      [
        ["Action.OpenUrl", "Acknowledge", ACK],
        ["Action.OpenUrl", "Open map", MAP],
        ["Action.OpenUrl", "Open in Teams", TEAMS],
      ],
    );
  });
});

describe("slackMessage", () => {
  it("builds header, text, fields and URL buttons with a text fallback", () => {
    const message = slackMessage(alert()) as any;
    assert.match(message.text, /^Emergency call 911 from Adele Vance\n/);
    assert.ok(message.text.includes(`Acknowledge: ${escapeSlack(ACK)}`));
    const [header, section, fields, actions] = message.blocks;
    assert.deepEqual(header, {
      type: "header",
      text: { type: "plain_text", text: "Emergency call 911 from Adele Vance", emoji: false },
    });
    assert.equal(section.text.type, "mrkdwn");
    assert.equal(fields.fields[0].text, "*Caller*\nAdele Vance &lt;adele@contoso.com&gt;");
    assert.equal(
      fields.fields[1].text,
      "*Location*\n[Click here](https://evil.example) &amp; &lt;b&gt;bold&lt;/b&gt;",
    );
    assert.deepEqual(
      actions.elements.map((e: any) => [e.type, e.text.text, e.url]),
      [
        ["button", "Acknowledge", ACK],
        ["button", "Open map", MAP],
        ["button", "Open in Teams", TEAMS],
      ],
    );
  });

  it("keeps within Block Kit limits: 150-character header, 10 fields per section", () => {
    const fields = Array.from({ length: 14 }, (_, i) => ({ label: `F${i}`, value: "v" }));
    const message = slackMessage(alert({ title: "t".repeat(400), fields })) as any;
    assert.equal(Array.from(message.blocks[0].text.text as string).length, 150);
    const sections = message.blocks.filter((b: any) => b.fields);
    assert.deepEqual(
      sections.map((s: any) => s.fields.length),
      [10, 4],
    );
  });

  it("escapes mentions so alert text cannot ping a whole channel", () => {
    assert.equal(escapeSlack("<!channel> & <@U123>"), "&lt;!channel&gt; &amp; &lt;@U123&gt;");
  });
});

describe("webexMessage", () => {
  it("sends markdown and text with the room id, escaping caller-typed Markdown", () => {
    const body = webexMessage(alert(), "Y2lzY29zcGFyazovL3VzL1JPT00vYWJj") as any;
    assert.equal(body.roomId, "Y2lzY29zcGFyazovL3VzL1JPT00vYWJj");
    assert.match(body.markdown, /^\*\*Emergency call 911 from Adele Vance\*\*/);
    assert.ok(
      body.markdown.includes(
        "- **Location:** \\[Click here\\]\\(https://evil.example\\) & \\<b\\>bold\\</b\\>",
      ),
    );
    assert.ok(body.markdown.includes(`[Acknowledge](${ACK})`));
    assert.ok(body.text.includes(`Acknowledge: ${ACK}`));
    assert.ok(body.text.includes("Location: [Click here](https://evil.example)"));
  });

  it("gives up free text before exceeding Webex's size limit, never the acknowledgement link", () => {
    const body = webexMessage(alert({ text: "é".repeat(7000) }), "room_12345678") as any;
    assert.ok(Buffer.byteLength(body.markdown) <= 7000);
    assert.ok(body.markdown.includes(`[Acknowledge](${ACK})`));
  });
});

describe("smsBody", () => {
  it("is the text on one line with the acknowledgement link", () => {
    assert.equal(smsBody(alert()), `Adele Vance dialed 911. Location: Building 4, Floor 2.\nAck: ${ACK}`);
  });

  it("clips long text so the whole link still fits in 320 characters", () => {
    const body = smsBody(alert({ text: "word ".repeat(200) }));
    assert.ok(Array.from(body).length <= SMS_MAX_LENGTH, String(body.length));
    assert.ok(body.endsWith(`\nAck: ${ACK}`));
    assert.match(body, /…\nAck:/);
  });

  it("falls back to the title and leaves out a missing link", () => {
    assert.equal(smsBody(alert({ text: "  ", acknowledgeUrl: null })), "Emergency call 911 from Adele Vance");
  });
});

describe("emailContent", () => {
  it("puts facts and links in both parts and escapes HTML", () => {
    const content = emailContent(alert());
    assert.equal(content.subject, "Emergency call 911 from Adele Vance");
    for (const url of [ACK, MAP, TEAMS]) assert.ok(content.text.includes(url), url);
    assert.ok(content.text.includes("Location: [Click here](https://evil.example) & <b>bold</b>"));
    assert.ok(content.html.includes(`href="${escapeHtml(ACK)}"`));
    assert.ok(content.html.includes(`href="${escapeHtml(MAP)}"`));
    assert.ok(content.html.includes("&amp; &lt;b&gt;bold&lt;/b&gt;"));
    assert.ok(!content.html.includes("<b>bold</b>"));
    assert.ok(content.html.includes("Adele Vance &lt;adele@contoso.com&gt;"));
    assert.ok(content.html.includes("Adele Vance dialed 911.<br>"));
  });

  it("keeps control characters out of the subject", () => {
    assert.equal(
      emailContent(alert({ title: "Alert\r\nBcc: x@evil.example" })).subject,
      "Alert Bcc: x@evil.example",
    );
  });

  it("escapes quotes in attributes", () => {
    assert.equal(escapeHtml(`"'<>&`), "&quot;&#39;&lt;&gt;&amp;");
  });
});

describe("testAlertMessage", () => {
  it("builds a test alert without links, for the org", () => {
    const message = testAlertMessage(
      Date.parse("2026-03-01T12:00:00Z"),
      { id: "org_1", name: "Contoso" },
      "test_1",
    );
    assert.equal(message.kind, "test");
    assert.equal(message.id, "test_1");
    assert.equal(message.orgName, "Contoso");
    assert.equal(message.acknowledgeUrl, null);
    assert.deepEqual(message.fields, [
      { label: "Organization", value: "Contoso" },
      { label: "Sent at", value: "2026-03-01T12:00:00.000Z" },
    ]);
    assert.match(message.text, /No emergency/);
    assert.notEqual(testAlertMessage(0, null).id, testAlertMessage(0, null).id);
  });
});
