import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  receiverMessage,
  sendResultForAnswer,
  sendResultForNetworkError,
  type HttpAnswer,
} from "../../src/channels/http-send-result.ts";
import { scrubSecrets } from "../../src/channels/scrub-secrets.ts";
import { combineRecipientResults } from "../../src/channels/sms-channel.ts";
import { sendResultForSmtpError, sendResultForSmtpInfo } from "../../src/channels/smtp-send-result.ts";

const NOW = Date.parse("2026-03-01T12:00:00Z");

function answer(status: number, extra: Partial<HttpAnswer> = {}): HttpAnswer {
  return { status, statusText: "", retryAfter: undefined, contentType: undefined, body: "", ...extra };
}

describe("sendResultForAnswer", () => {
  it("counts every 2xx as delivered, 202 from Teams Workflows included", () => {
    for (const status of [200, 201, 202, 204, 299]) {
      assert.equal(sendResultForAnswer(answer(status), NOW).outcome, "delivered", String(status));
    }
    assert.deepEqual(sendResultForAnswer(answer(202, { statusText: "Accepted" }), NOW), {
      outcome: "delivered",
      status: 202,
      detail: "HTTP 202 Accepted",
    });
  });

  it("counts every 3xx as failed and says why, without the Location", () => {
    for (const status of [300, 301, 302, 303, 307, 308]) {
      const result = sendResultForAnswer(answer(status), NOW);
      assert.equal(result.outcome, "failed", String(status));
      assert.match(result.detail!, /redirects are not followed/);
    }
  });

  it("retries 408, 425, 429 and 5xx, honouring Retry-After in seconds or as an HTTP date", () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504, 599]) {
      const result = sendResultForAnswer(answer(status), NOW);
      assert.equal(result.outcome, "retry", String(status));
    }
    const seconds = sendResultForAnswer(answer(429, { retryAfter: "30" }), NOW);
    assert.equal(seconds.outcome === "retry" && seconds.retryAfterMs, 30_000);
    const date = sendResultForAnswer(answer(503, { retryAfter: "Sun, 01 Mar 2026 12:02:00 GMT" }), NOW);
    assert.equal(date.outcome === "retry" && date.retryAfterMs, 120_000);
    const none = sendResultForAnswer(answer(500), NOW);
    assert.equal(none.outcome === "retry" && none.retryAfterMs, null);
    const garbage = sendResultForAnswer(answer(429, { retryAfter: "soon" }), NOW);
    assert.equal(garbage.outcome === "retry" && garbage.retryAfterMs, null);
  });

  it("maps 410 to gone and other 4xx to failed", () => {
    assert.equal(sendResultForAnswer(answer(410), NOW).outcome, "gone");
    for (const status of [400, 401, 403, 404, 405, 413, 422]) {
      assert.equal(sendResultForAnswer(answer(status), NOW).outcome, "failed", String(status));
    }
    assert.equal(sendResultForAnswer(answer(600), NOW).outcome, "failed");
    assert.equal(sendResultForAnswer(answer(101), NOW).outcome, "failed");
  });

  it("quotes the receiver's own error message, short", () => {
    const twilio = sendResultForAnswer(
      answer(400, {
        statusText: "Bad Request",
        contentType: "application/json; charset=utf-8",
        body: JSON.stringify({ code: 21211, message: "The 'To' number is not valid.", status: 400 }),
      }),
      NOW,
    );
    assert.equal(twilio.detail, "HTTP 400 Bad Request: 21211 The 'To' number is not valid.");
    const slack = sendResultForAnswer(answer(404, { contentType: "text/plain", body: "no_service" }), NOW);
    assert.equal(slack.detail, "HTTP 404: no_service");
  });
});

describe("receiverMessage", () => {
  it("reads the usual JSON error shapes and plain text, never HTML", () => {
    assert.equal(
      receiverMessage("application/json", '{"message":"Room not found","trackingId":"x"}'),
      "Room not found",
    );
    assert.equal(receiverMessage("application/json", '{"error":{"message":"nested"}}'), "nested");
    assert.equal(receiverMessage("application/json", '{"error":"invalid_token"}'), "invalid_token");
    assert.equal(receiverMessage("application/json", "not json"), "");
    assert.equal(receiverMessage("text/html", "<html><body>error</body></html>"), "");
    assert.equal(receiverMessage(undefined, "<html>"), "");
    assert.equal(receiverMessage("text/plain", "line one\r\n\tline two"), "line one line two");
  });

  it("cuts long messages to 200 characters", () => {
    const text = receiverMessage("text/plain", "x".repeat(5000));
    assert.equal(Array.from(text).length, 200);
    assert.ok(text.endsWith("…"));
  });
});

describe("sendResultForNetworkError", () => {
  it("retries timeouts, aborts and every network error, naming the cause", () => {
    assert.deepEqual(sendResultForNetworkError(new Error("x"), "timeout", 1500), {
      outcome: "retry",
      status: null,
      retryAfterMs: null,
      detail: "timed out after 1500 ms",
    });
    assert.match(sendResultForNetworkError(undefined, "aborted", 1).detail!, /aborted/);
    const refused = sendResultForNetworkError(
      Object.assign(new Error("connect"), { code: "ECONNREFUSED" }),
      undefined,
      1,
    );
    assert.equal(refused.outcome, "retry");
    assert.equal(refused.detail, "connection refused (ECONNREFUSED)");
    const tls = sendResultForNetworkError({ code: "ERR_SSL_WRONG_VERSION_NUMBER" }, undefined, 1);
    assert.equal(tls.detail, "TLS failure (ERR_SSL_WRONG_VERSION_NUMBER)");
    assert.equal(sendResultForNetworkError("weird", undefined, 1).detail, "network error");
  });
});

describe("sendResultForSmtpInfo and sendResultForSmtpError", () => {
  it("delivers when every recipient was accepted", () => {
    const result = sendResultForSmtpInfo({
      accepted: ["a@x.com", "b@x.com"],
      rejected: [],
      response: "250 OK: queued",
    });
    assert.deepEqual(result, {
      outcome: "delivered",
      status: null,
      detail: "accepted for 2 recipient(s): 250 OK: queued",
    });
  });

  it("fails on a permanently refused recipient and retries a deferred one", () => {
    const refused = sendResultForSmtpInfo({
      accepted: ["a@x.com"],
      rejected: ["b@x.com"],
      rejectedErrors: [{ responseCode: 550 }],
    });
    assert.equal(refused.outcome, "failed");
    assert.equal(refused.detail, "accepted for 1 of 2 recipients; 1 refused (550)");
    const deferred = sendResultForSmtpInfo({
      accepted: ["a@x.com"],
      rejected: ["b@x.com"],
      rejectedErrors: [{ responseCode: 450 }],
    });
    assert.equal(deferred.outcome, "retry");
  });

  it("retries 4xx replies and connection failures, fails 5xx replies and configuration errors", () => {
    const smtp = (error: object) => sendResultForSmtpError(error, undefined, 1000);
    assert.equal(
      smtp({ code: "EMESSAGE", responseCode: 451, response: "451 4.3.0 Try again later" }).outcome,
      "retry",
    );
    assert.equal(smtp({ code: "EMESSAGE", responseCode: 421 }).outcome, "retry");
    assert.equal(smtp({ code: "EPROTOCOL", responseCode: 503 }).outcome, "retry");
    const refused = smtp({ code: "EMESSAGE", responseCode: 554, response: "554 5.7.1 Message refused" });
    assert.deepEqual(refused, { outcome: "failed", status: null, detail: "SMTP: 554 5.7.1 Message refused" });
    const auth = smtp({ code: "EAUTH", responseCode: 535, response: "535 5.7.8 Authentication failed" });
    assert.equal(auth.outcome, "failed");
    assert.match(auth.detail!, /^SMTP authentication failed: 535/);
    const envelope = smtp({
      code: "EENVELOPE",
      rejectedErrors: [{ responseCode: 550 }, { responseCode: 451 }],
    });
    assert.equal(envelope.outcome, "retry");
    for (const code of ["ECONNECTION", "ETIMEDOUT", "ESOCKET", "EDNS", "ETLS"]) {
      assert.equal(smtp({ code }).outcome, "retry", code);
    }
    assert.equal(
      smtp({ code: "ESOCKET", originalCode: "ECONNREFUSED" }).detail,
      "SMTP connection failed: connection refused (ECONNREFUSED)",
    );
    assert.equal(
      smtp({ code: "ETIMEDOUT" }).detail,
      "SMTP connection failed: connection timed out (ETIMEDOUT)",
    );
    for (const code of ["EAUTH", "ENOAUTH", "EREQUIRETLS", "EENVELOPE", "ECONFIG"]) {
      assert.equal(smtp({ code }).outcome, "failed", code);
    }
    assert.match(sendResultForSmtpError({}, "timeout", 250).detail!, /timed out after 250 ms/);
  });
});

describe("combineRecipientResults", () => {
  const delivered = { outcome: "delivered", status: 201, detail: "HTTP 201" } as const;
  const retry = (ms: number | null) =>
    ({ outcome: "retry", status: 429, retryAfterMs: ms, detail: "HTTP 429" }) as const;
  const failed = { outcome: "failed", status: 400, detail: "HTTP 400: bad number" } as const;

  it("is delivered only when every number was reached", () => {
    assert.equal(
      combineRecipientResults(["+15550001", "+15550002"], [delivered, delivered]).outcome,
      "delivered",
    );
  });

  it("retries when any number needs it, with the longest Retry-After", () => {
    const result = combineRecipientResults(
      ["+15550001", "+15550002", "+15550003"],
      [delivered, retry(1000), retry(5000)],
    );
    assert.equal(result.outcome, "retry");
    assert.equal(result.outcome === "retry" && result.retryAfterMs, 5000);
    assert.match(result.detail!, /^sent to 1 of 3 numbers; …0002: HTTP 429; …0003: HTTP 429$/);
  });

  it("fails when a number is refused and none needs a retry, showing only the last four digits", () => {
    const result = combineRecipientResults(["+15551234567", "+15557654321"], [delivered, failed]);
    assert.equal(result.outcome, "failed");
    assert.equal(result.detail, "sent to 1 of 2 numbers; …4321: HTTP 400: bad number");
  });
});

describe("scrubSecrets", () => {
  it("removes secrets, their encoded forms and the parts of secret URLs", () => {
    const url = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/XXXXsecretXXXXtoken";
    const text = `echo ${url} and XXXXsecretXXXXtoken and ${encodeURIComponent("p@ss word!")} and c2VjcmV0LXRva2Vu`;
    const scrubbed = scrubSecrets(text, [url, "p@ss word!", "secret-token"]);
    assert.ok(!scrubbed.includes("XXXXsecretXXXXtoken"), scrubbed);
    assert.ok(!scrubbed.includes("p%40ss"), scrubbed);
    assert.ok(!scrubbed.includes("c2VjcmV0LXRva2Vu"), scrubbed);
    assert.ok(!scrubbed.includes("hooks.slack.com/services"), scrubbed);
  });

  it("removes a Teams Workflows signature echoed on its own", () => {
    const url =
      "https://prod-1.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sp=%2Fx&sig=AbCdEfGhIjKlMnOp";
    assert.equal(scrubSecrets("bad sig AbCdEfGhIjKlMnOp", [url]), "bad sig [redacted]");
  });

  it("caps the length", () => {
    assert.ok(scrubSecrets("y".repeat(1000), []).length <= 300);
  });
});
