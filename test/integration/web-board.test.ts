import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { EmergencyStore } from "../../src/storage/emergency-store.ts";
import { openDatabase, type OpenedDatabase } from "../../src/storage/open-database.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { anEmergency, anEmergencyRecord } from "../helpers/alert-fixtures.ts";
import { startHttpReceiver, type HttpReceiver } from "../helpers/channel-receivers.ts";
import { startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-setup.ts";
import { WebClient } from "../helpers/web-client.ts";

// The live board over real HTTP: the page, the server-sent event stream (headers, snapshot, live cards, the
// session check), acknowledging and notes with the roles' limits, and changes another instance writes.

const PASSWORD = "correct horse battery staple";

describe("live board over HTTP", () => {
  let emu: Emulator;
  let relay: TestRelay;
  let hooks: HttpReceiver;
  const clock = new FakeClock(Date.parse("2026-11-27T09:00:00Z"));
  let admin: WebClient;
  let responder: WebClient;
  let viewer: WebClient;
  let orgId: string;

  before(async () => {
    emu = await startEmulator({ clock });
    relay = await startTestRelay(emu, clock, { RELAY_ALLOW_PRIVATE_TARGETS: "true" }, undefined, {
      board: { pollIntervalMs: false, heartbeatMs: 150 },
    });
    hooks = await startHttpReceiver();
    admin = new WebClient(relay.url);
    await admin.signIn("admin", relay.relay.firstAdmin!.password!);
    await admin.createAccount("rita", "responder", PASSWORD, "Rita Responder");
    await admin.createAccount("vera", "viewer", PASSWORD);
    responder = new WebClient(relay.url);
    await responder.signIn("rita", PASSWORD);
    viewer = new WebClient(relay.url);
    await viewer.signIn("vera", PASSWORD);
    orgId = (await relay.api("POST", "/api/orgs", { name: "Contoso <Desk>" })).json().id;
    const channel = await relay.api("POST", `/api/org/${orgId}/channels`, {
      type: "webhook",
      name: "Desk hook",
      url: `${hooks.url}/desk`,
    });
    const created = await relay.api("POST", `/api/org/${orgId}/policies`, {
      name: "Desk",
      callType: "any",
      tiers: [{ channelIds: [channel.json().id] }],
    });
    assert.equal(created.status, 201, created.text);
  });
  let closed = false;
  after(async () => {
    if (!closed) await relay?.close();
    await hooks?.close();
    await emu?.close();
  });

  async function raise(overrides: Parameters<typeof anEmergency>[0] = {}) {
    const result = await relay.relay.alerting.raiser.raise(orgId, {
      value: anEmergency(overrides),
      ruleId: "default",
    });
    await result.sent;
    return result.emergencyId;
  }

  it("streams a snapshot, then each new emergency as a card, with the security headers", async () => {
    const stream = await responder.events("/board/events");
    try {
      assert.equal(stream.response.statusCode, 200);
      const headers = stream.response.headers;
      assert.match(String(headers["content-type"]), /^text\/event-stream/);
      assert.match(String(headers["content-security-policy"]), /default-src 'none'/);
      assert.doesNotMatch(String(headers["content-security-policy"]), /unsafe-inline/);
      assert.equal(headers["x-frame-options"], "DENY");
      assert.equal(headers["x-content-type-options"], "nosniff");
      assert.equal(headers["cache-control"], "no-store");
      const snapshot = await stream.next("snapshot");
      assert.match(stream.raw.join(""), /^retry: \d+\n\n/);
      assert.deepEqual(snapshot.data.open, []);
      assert.equal(snapshot.data.now, clock.now());

      const started = Date.now();
      const id = await raise({
        caller: { id: null, displayName: "Pat <b>Caller</b>", userPrincipalName: "pat@contoso.example" },
      });
      let card = await stream.next("card");
      while (card.data.id !== id) card = await stream.next("card");
      assert.ok(card.receivedAt - started < 1000, `card after ${card.receivedAt - started} ms`);
      assert.equal(card.data.list, "open");
      assert.equal(card.data.isTest, false);
      assert.match(card.data.html, /Pat &lt;b&gt;Caller&lt;\/b&gt;/, "escaped");
      assert.match(card.data.html, /Acknowledge<\/button>/);
      assert.match(card.data.announce, /^Emergency call 911 from Pat <b>Caller<\/b>/);
      // Once the webhook answered, the card says so.
      for (;;) {
        if (/data-status="delivered"/.test(card.data.html)) break;
        card = await stream.next("card");
      }
      assert.match(card.data.html, /data-channel="Desk hook"/);
    } finally {
      stream.close();
    }
  });

  it("shows open emergencies on the page: test calls marked, an unknown location loud, a map link", async () => {
    const testId = await raise({ isTest: true, dialString: "933" });
    const unknownId = await raise({
      location: { raw: null, place: null, civicAddress: null, coordinates: null, quality: "unknown" },
    });
    const page = await responder.get("/board");
    assert.equal(page.status, 200);
    assert.match(String(page.headers["content-security-policy"]), /script-src 'self'/);
    const testCard = cardOf(page.text, testId);
    assert.match(testCard, /class="em-card em-test em-open"/);
    assert.match(testCard, /TEST CALL/);
    const unknown = cardOf(page.text, unknownId);
    assert.match(unknown, /em-loc-unknown/);
    assert.match(unknown, /LOCATION UNKNOWN/);
    assert.doesNotMatch(unknown, /Open map/);
    assert.match(
      testCard,
      /href="https:\/\/www\.google\.com\/maps\/search\/\?api=1&amp;query=47\.6396,-122\.1283"/,
    );
    assert.match(page.text, /id="board-live" class="visually-hidden" aria-live="assertive"/);
    assert.match(page.text, /data-level="real"/);
  });

  it("a viewer sees the board without forms and is refused when posting anyway", async () => {
    const id = await raise();
    const page = await viewer.get("/board");
    assert.equal(page.status, 200);
    const card = cardOf(page.text, id);
    assert.doesNotMatch(card, /<form/);
    const token = await viewer.csrf("/board");
    const ack = await viewer.post(`/emergencies/${id}/ack`, { _csrf: token });
    assert.equal(ack.status, 403);
    const note = await viewer.post(`/emergencies/${id}/notes`, { _csrf: token, text: "hi" });
    assert.equal(note.status, 403);
    const detail = (await relay.api("GET", `/api/emergencies/${id}`)).json();
    assert.equal(detail.state, "open");
    // Without a session: the sign-in page, for the stream as for pages.
    const anonymous = await new WebClient(relay.url).get("/board/events");
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.headers.location, "/login?next=%2Fboard%2Fevents");
  });

  it("a responder acknowledges on the board: the card moves, later ones are told who was first, it is audited", async () => {
    const id = await raise();
    const stream = await responder.events("/board/events");
    try {
      await stream.next("snapshot");
      const token = await responder.csrf("/board");
      const noToken = await responder.post(`/emergencies/${id}/ack`, {}, { accept: "application/json" });
      assert.equal(noToken.status, 403, "CSRF token required");
      clock.advance(12_000);
      const res = await responder.post(
        `/emergencies/${id}/ack`,
        { _csrf: token, return: "/board" },
        { accept: "application/json" },
      );
      assert.equal(res.status, 200, res.text);
      const answer = res.json();
      assert.equal(answer.card.list, "acknowledged");
      assert.match(answer.card.html, /Acknowledged by <strong>Rita Responder \(rita\)<\/strong>/);
      let card = await stream.next("card");
      while (card.data.id !== id) card = await stream.next("card");
      assert.equal(card.data.list, "acknowledged");

      const again = await responder.post(`/emergencies/${id}/ack`, { _csrf: token, return: "/board" });
      assert.equal(again.status, 303);
      assert.equal(again.headers.location, "/board");
      const board = await responder.get("/board");
      assert.match(board.text, /Already acknowledged by Rita Responder \(rita\)/);

      const detail = (await relay.api("GET", `/api/emergencies/${id}`)).json();
      assert.deepEqual(
        [detail.state, detail.acknowledgement.via, detail.acknowledgement.by],
        ["acknowledged", "web", "Rita Responder (rita)"],
      );
      const ack = detail.timeline.find((e: { kind: string }) => e.kind === "acknowledged");
      assert.match(ack.message, /^Acknowledged by Rita Responder \(rita\) in the web app after 12 s$/);
      const audit = await admin.get("/audit");
      assert.match(audit.text, /data-action="emergency.acknowledge"/);
    } finally {
      stream.close();
    }
  });

  it("notes are added, escaped, and shown on the card and the detail page", async () => {
    const id = await raise();
    const token = await responder.csrf("/board");
    const empty = await responder.post(
      `/emergencies/${id}/notes`,
      { _csrf: token, text: "  " },
      {
        accept: "application/json",
      },
    );
    assert.equal(empty.status, 400);
    assert.match(empty.json().message, /text: must be a non-empty string/);
    const res = await responder.post(
      `/emergencies/${id}/notes`,
      { _csrf: token, text: "Security on the way <script>x</script>" },
      { accept: "application/json" },
    );
    assert.equal(res.status, 200);
    assert.match(res.json().card.html, /Security on the way &lt;script&gt;x&lt;\/script&gt;/);
    const detail = await responder.get(`/emergencies/${id}`);
    assert.equal(detail.status, 200);
    assert.match(detail.text, /data-kind="note"/);
    assert.match(detail.text, /Security on the way &lt;script&gt;/);
    assert.match(detail.text, /data-kind="detected"/);
    assert.match(detail.text, /data-kind="delivered"/);
    assert.equal((await responder.get("/emergencies/em_0000000000000000")).status, 404);
  });

  it("changes another instance writes reach the board through the poll", async () => {
    const stream = await responder.events("/board/events");
    let other: OpenedDatabase | undefined;
    try {
      await stream.next("snapshot");
      // This instance's own changes so far (the poll sees them too; the board skips cards it already sent).
      await relay.relay.alerting.changePoller.pollOnce();
      // A second process on the same database: its own connection and store, no feed to this one.
      other = await openDatabase({ engine: "sqlite", file: path.join(relay.dataDir, "relay.db") });
      const store = new EmergencyStore(other.db, "sqlite", createSecretBox(Buffer.alloc(32, 1)));
      const record = anEmergencyRecord(orgId, clock.now(), { state: "unrouted" });
      await store.raise({
        record,
        timeline: [
          { emergencyId: record.id, at: clock.now(), kind: "detected", message: "elsewhere", details: null },
        ],
        ackTokens: [],
        deliveries: [],
        jobs: {},
      });
      assert.equal(await relay.relay.alerting.changePoller.pollOnce(), 1);
      let card = await stream.next("card");
      while (card.data.id !== record.id) card = await stream.next("card");
      assert.equal(card.data.list, "open");
      assert.match(card.data.html, /NOBODY NOTIFIED/);
      assert.equal(await relay.relay.alerting.changePoller.pollOnce(), 0, "each change once");
    } finally {
      stream.close();
      await other?.close();
    }
  });

  it("history filters by type and state, pages, and exports the same rows as CSV", async () => {
    const all = (await relay.api("GET", `/api/emergencies?orgId=${orgId}&limit=1000`)).json().emergencies;
    const tests = all.filter((e: { isTest: boolean }) => e.isTest).map((e: { id: string }) => e.id);
    assert.ok(tests.length > 0 && tests.length < all.length);
    const page = await viewer.get("/history?type=test&state=");
    assert.equal(page.status, 200);
    assert.deepEqual(rowIds(page.text), tests);
    assert.match(page.text, /href="\/history.csv\?type=test"/);
    const open = await viewer.get(`/history?state=acknowledged&orgId=${orgId}`);
    assert.ok(rowIds(open.text).length >= 1);
    assert.ok(
      rowIds(open.text).every((id) => all.find((e: { id: string }) => e.id === id).state === "acknowledged"),
    );

    const csv = await viewer.get("/history.csv?type=test");
    assert.equal(csv.status, 200);
    assert.match(String(csv.headers["content-type"]), /^text\/csv; charset=utf-8/);
    assert.match(
      String(csv.headers["content-disposition"]),
      /^attachment; filename="emergencies-\d{8}-\d{4}\.csv"$/,
    );
    const lines = csv.text
      .replace(/^\uFEFF/, "")
      .trimEnd()
      .split("\r\n");
    assert.equal(lines[0]!.split(",")[0], "id");
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(",")[0]),
      tests,
    );
    assert.ok(lines.slice(1).every((l) => l.includes(",test,933,")));

    const bad = await viewer.get("/history?from=2026-13-01");
    assert.equal(bad.status, 400);
    assert.match(bad.text, /From: must be a date such as 2026-11-27/);
    assert.equal((await viewer.get("/history.csv?from=nope")).status, 303);
  });

  it("history pages back 50 at a time", async () => {
    const writer = relay.relay.alerting.emergencies;
    const base = clock.now() - 3600_000;
    for (let i = 0; i < 55; i++) {
      const record = anEmergencyRecord(orgId, base - i * 1000, { state: "unrouted" });
      await writer.raise({ record, timeline: [], ackTokens: [], deliveries: [], jobs: {} });
    }
    const to = new Date(base).toISOString().slice(0, 10);
    const first = await viewer.get(`/history?to=${to}&state=unrouted`);
    const ids = rowIds(first.text);
    assert.equal(ids.length, 50);
    const older = /id="older" href="([^"]+)"/.exec(first.text)?.[1]?.replace(/&amp;/g, "&");
    assert.ok(older, "a link to older rows");
    const second = rowIds((await viewer.get(older)).text);
    assert.ok(second.length >= 5);
    assert.equal(new Set([...ids, ...second]).size, ids.length + second.length, "no row twice");
  });

  it("ends the stream when the session ends", async () => {
    const client = new WebClient(relay.url);
    await client.signIn("rita", PASSWORD);
    const stream = await client.events("/board/events");
    await stream.next("snapshot");
    await stream.next("heartbeat");
    const out = await client.post("/logout", { _csrf: await client.csrf("/board") });
    assert.equal(out.status, 303);
    await stream.next("signed-out", 2000);
    await new Promise<void>((resolve) => (stream.ended ? resolve() : stream.response.on("end", resolve)));
  });

  // Last: it stops the relay.
  it("ends open streams when the relay shuts down, so the shutdown does not wait on them", async () => {
    const stream = await responder.events("/board/events");
    await stream.next("snapshot");
    const started = Date.now();
    closed = true;
    await relay.close();
    assert.ok(Date.now() - started < 5000, `shut down in ${Date.now() - started} ms`);
    await new Promise<void>((resolve) => (stream.ended ? resolve() : stream.response.on("end", resolve)));
  });
});

function rowIds(page: string): string[] {
  return [...page.matchAll(/<tr data-emergency-id="([^"]+)"/g)].map((m) => m[1]!);
}

function cardOf(page: string, id: string): string {
  const start = page.indexOf(`id="em-${id}"`);
  assert.ok(start >= 0, `card ${id} on the page`);
  return page.slice(page.lastIndexOf("<article", start), page.indexOf("</article>", start));
}
