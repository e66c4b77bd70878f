// Reconciliation polling against the emulator's Graph, with the service user's delegated token and the real
// seen-message and watermark stores on SQLite.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import type { MessageSource } from "../../src/core/intake-ports.ts";
import { createTeamsRateLimiter } from "../../src/core/rate-limiter.ts";
import { createMessageReconciler, type MessageReconciler } from "../../src/flows/reconcile-messages.ts";
import { createGraphClient } from "../../src/microsoft/graph-client.ts";
import { PollWatermarkStore } from "../../src/storage/poll-watermark-store.ts";
import { SeenMessageStore } from "../../src/storage/seen-message-store.ts";
import { openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { control, seedOrg, startEmulator, type Org } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { httpRequest } from "../helpers/http-request.ts";
import { graph, RELAY_SCOPES, signIn } from "../helpers/sign-in.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const clock = new FakeClock();
let emu: Emulator;
let database: TestDatabase;
let seen: SeenMessageStore;
let watermarks: PollWatermarkStore;
let testNumber = 0;

before(async () => {
  emu = await startEmulator({ clock });
  database = await openTestDatabase("sqlite");
  seen = new SeenMessageStore(database.db);
  watermarks = new PollWatermarkStore(database.db);
});
after(async () => {
  await emu.close();
  await database.close();
});

interface Setup {
  org: Org;
  orgId: string;
  accessToken(): Promise<string>;
  reconciler: MessageReconciler;
  handed: Array<{ orgId: string; id: string; source: MessageSource }>;
  events: Array<{
    kind: string;
    severity: string;
    message: string;
    details?: Record<string, unknown> | null;
  }>;
  /** Every Graph path the reconciler requested. */
  requests: string[];
  newUser(name: string): Promise<string>;
  chat(memberIds: string[]): Promise<string>;
  post(chatId: string, count?: number, content?: string): Promise<string[]>;
}

async function setup(): Promise<Setup> {
  testNumber += 1;
  const org = await seedOrg(emu, `https://relay.example.test/api/org/r${testNumber}/ms-teams/callback`);
  const tokens = await signIn(emu, org);
  const orgId = `org-${testNumber}`;
  await database.db
    .insertInto("orgs")
    .values({ id: orgId, name: orgId, created_at: 0, updated_at: 0 })
    .execute();
  const handed: Setup["handed"] = [];
  const events: Setup["events"] = [];
  const requests: string[] = [];
  let current = tokens;
  let expiresAt = clock.now() + tokens.expires_in * 1000;
  // Tests move the clock by days: the access token is refreshed as the relay's token keeper would.
  const accessToken = async () => {
    if (clock.now() > expiresAt - 5 * MINUTE) {
      const res = await httpRequest(`${emu.url}/${org.tenantId}/oauth2/v2.0/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          client_id: org.clientId,
          client_secret: org.clientSecret,
          grant_type: "refresh_token",
          refresh_token: current.refresh_token,
          scope: RELAY_SCOPES,
        }).toString(),
        ca: emu.caPem,
      });
      assert.equal(res.status, 200, res.text);
      current = res.json();
      expiresAt = clock.now() + current.expires_in * 1000;
    }
    return current.access_token;
  };
  const client = createGraphClient({
    baseUrl: emu.url,
    accessToken,
    extraCaPem: emu.caPem!,
    timeoutMs: 3000,
    sleep: async () => {},
  });
  const reconciler = createMessageReconciler({
    graph: {
      request: (id, method, path) => {
        requests.push(path);
        return client.request(id, method, path);
      },
    },
    seen,
    watermarks,
    onNewMessage: async (id, message, source) => {
      handed.push({ orgId: id, id: String(message.id), source });
    },
    events: {
      append: async (event) => {
        events.push(event);
      },
    },
    clock,
    limiter: createTeamsRateLimiter(),
    // Waiting for the rate limiter moves the shared clock, as real time would.
    sleep: async (ms) => {
      clock.advance(ms);
    },
  });
  const tenant = `/_emulator/tenants/${org.tenantId}`;
  return {
    org,
    orgId,
    accessToken,
    reconciler,
    handed,
    events,
    requests,
    async newUser(name) {
      const user = await control(emu, "POST", `${tenant}/users`, {
        displayName: name,
        userPrincipalName: `${name.toLowerCase().replace(/\W/g, "")}-${org.tenantId.slice(0, 8)}@contoso.example`,
      });
      return user.id;
    },
    async chat(memberIds) {
      return (await control(emu, "POST", `${tenant}/chats`, { memberIds })).chatId;
    },
    async post(chatId, count = 1, content = "Hello") {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const res = await control(emu, "POST", `${tenant}/chats/${encodeURIComponent(chatId)}/messages`, {
          fromUserId: org.caller.id,
          content: `${content} ${i}`,
        });
        ids.push(res.messageId);
      }
      return ids;
    },
  };
}

const gapEvents = (s: Setup) => s.events.filter((e) => e.kind === "webhook_delivery_gap");

describe("reconciliation polling", () => {
  test("messages that never came as notifications are found, reported as one gap once, and the watermark advances", async () => {
    const s = await setup();
    const colleague = await s.newUser("Colleague");
    const outsider = await s.newUser("Outsider");
    const chatA = await s.chat([s.org.serviceUser.id, s.org.caller.id]);
    const chatB = await s.chat([s.org.serviceUser.id, s.org.caller.id, colleague]);
    // A chat the service user is not in: invisible to it, never read.
    const hidden = await s.chat([s.org.caller.id, outsider]);
    const postedAt = clock.now();
    const found = [...(await s.post(chatA, 3)), ...(await s.post(chatB, 2))];
    await s.post(hidden, 1);
    clock.advance(3 * MINUTE);

    const first = await s.reconciler.reconcile(s.orgId);
    assert.equal(first.chatsScanned, 2);
    assert.equal(first.newMessages, 5);
    assert.equal(first.gaps, 5);
    assert.deepEqual(s.handed.map((h) => h.id).sort(), [...found].sort());
    assert.ok(s.handed.every((h) => h.source === "polling" && h.orgId === s.orgId));
    assert.equal(gapEvents(s).length, 1);
    assert.equal(gapEvents(s)[0]!.severity, "error");
    assert.deepEqual(gapEvents(s)[0]!.details?.count, 5);
    assert.deepEqual(gapEvents(s)[0]!.details?.chats, 2);
    assert.doesNotMatch(JSON.stringify(s.events), /Hello/, "no message content in events");
    assert.equal(await watermarks.get(s.orgId), postedAt);
    assert.equal(first.watermark, postedAt);
    assert.ok(s.requests.every((p) => !p.includes(encodeURIComponent(hidden))));

    // The next pass re-reads the overlap but reports nothing again.
    const second = await s.reconciler.reconcile(s.orgId);
    assert.equal(second.newMessages, 0);
    assert.equal(second.gaps, 0);
    assert.equal(second.messagesSeen, 5);
    assert.equal(gapEvents(s).length, 1);
    assert.equal(s.handed.length, 5);

    // A message whose notification already brought it is not handed again.
    const [notified] = await s.post(chatA, 1, "notified");
    await seen.claim(
      { orgId: s.orgId, chatId: chatA, messageId: notified!, source: "notification", messageCreatedAt: null },
      clock.now(),
    );
    await seen.confirm({ orgId: s.orgId, chatId: chatA, messageId: notified! }, clock.now());
    // A brand-new one, younger than the grace period: handed over, but its notification may still be coming.
    clock.advance(10_000);
    const youngAt = clock.now();
    const [young] = await s.post(chatB, 1, "young");
    clock.advance(30_000);
    const third = await s.reconciler.reconcile(s.orgId);
    assert.equal(third.newMessages, 1);
    assert.equal(third.gaps, 0);
    assert.deepEqual(s.handed.at(-1), { orgId: s.orgId, id: young, source: "polling" });
    assert.equal(gapEvents(s).length, 1);
    assert.equal(await watermarks.get(s.orgId), youngAt);
    assert.deepEqual(await seen.countBySource(s.orgId), { notification: 1, polling: 6 });
  });

  test("asks Graph for the window only, with $orderby and $filter on the same property (the silent-ignore trap)", async () => {
    const s = await setup();
    const chat = await s.chat([s.org.serviceUser.id, s.org.caller.id]);
    // 60 messages from two days ago, before any watermark; then three new ones.
    await s.post(chat, 60, "old");
    clock.advance(48 * HOUR);
    const fresh = await s.post(chat, 3, "new");
    clock.advance(5 * MINUTE);

    const result = await s.reconciler.reconcile(s.orgId);
    assert.equal(result.messagesSeen, 3, "only the window came back: Graph applied the filter");
    assert.deepEqual(s.handed.map((h) => h.id).sort(), [...fresh].sort());
    const messageRequests = s.requests.filter((p) => p.includes("/messages"));
    assert.equal(messageRequests.length, 1, "one page: no paging through history");
    const query = new URLSearchParams(messageRequests[0]!.split("?")[1]);
    assert.equal(query.get("$orderby"), "lastModifiedDateTime desc");
    assert.match(query.get("$filter")!, /^lastModifiedDateTime gt \d{4}-\d\d-\d\dT/);

    // The control: without the matching $orderby, Graph ignores the filter and pages through the whole history.
    query.delete("$orderby");
    const ignored = await graph(
      emu,
      await s.accessToken(),
      "GET",
      `/chats/${encodeURIComponent(chat)}/messages?${query.toString().replaceAll("%24", "$")}`,
    );
    assert.equal(ignored.json().value.length, 50);
    assert.ok(ignored.json()["@odata.nextLink"]);
  });

  test("the first pass looks back 24 hours; more than a page of new messages is read through nextLink", async () => {
    const s = await setup();
    const chat = await s.chat([s.org.serviceUser.id, s.org.caller.id]);
    await s.post(chat, 2, "too old");
    clock.advance(25 * HOUR);
    const recent = await s.post(chat, 55, "recent");
    clock.advance(10 * MINUTE);
    const result = await s.reconciler.reconcile(s.orgId);
    assert.equal(result.newMessages, 55);
    assert.equal(result.messagesSeen, 55);
    assert.deepEqual(s.handed.map((h) => h.id).sort(), [...recent].sort());
    assert.equal(s.requests.filter((p) => p.includes("/messages")).length, 2);
  });

  test("lists chats newest first and stops paging at the first chat older than the window", async () => {
    const s = await setup();
    const quiet = await s.chat([s.org.serviceUser.id, s.org.caller.id]);
    await s.post(quiet, 1, "long ago");
    clock.advance(30 * HOUR);
    const active: string[] = [];
    for (let i = 0; i < 52; i++) {
      const user = await s.newUser(`Member ${i}`);
      const chat = await s.chat([s.org.serviceUser.id, s.org.caller.id, user]);
      active.push(chat);
      await s.post(chat, 1);
      clock.advance(1000);
    }
    clock.advance(5 * MINUTE);
    const result = await s.reconciler.reconcile(s.orgId);
    assert.equal(result.chatsScanned, 52);
    assert.equal(result.newMessages, 52);
    const listRequests = s.requests.filter((p) => p.includes("/me/chats"));
    assert.equal(listRequests.length, 2, "two pages of 50");
    const first = new URLSearchParams(listRequests[0]!.split("?")[1]);
    assert.equal(first.get("$expand"), "lastMessagePreview");
    assert.equal(first.get("$orderby"), "lastMessagePreview/createdDateTime desc");
    assert.ok(!s.requests.some((p) => p.includes(encodeURIComponent(quiet))), "the quiet chat is not read");
  });

  test("a pass that fails does not move the watermark, still reports the gaps it found, and the next pass finishes", async () => {
    const s = await setup();
    const colleague = await s.newUser("Colleague");
    const older = await s.chat([s.org.serviceUser.id, s.org.caller.id]);
    const newer = await s.chat([s.org.serviceUser.id, s.org.caller.id, colleague]);
    await s.post(older, 1);
    clock.advance(1000);
    await s.post(newer, 1);
    clock.advance(3 * MINUTE);
    // Chats are read newest first: the second one is throttled beyond what the client waits for inline.
    await control(emu, "POST", "/_emulator/faults", {
      target: "graph",
      kind: "http",
      status: 429,
      retryAfter: 30,
      match: `/chats/${encodeURIComponent(older)}/messages`,
    });
    await assert.rejects(s.reconciler.reconcile(s.orgId), /429/);
    assert.equal(await watermarks.get(s.orgId), undefined);
    assert.equal(gapEvents(s).length, 1);
    assert.equal(gapEvents(s)[0]!.details?.count, 1);

    const retry = await s.reconciler.reconcile(s.orgId);
    assert.equal(retry.newMessages, 1);
    assert.equal(retry.gaps, 1);
    assert.equal(gapEvents(s).length, 2);
    assert.equal(s.handed.length, 2);
    assert.ok((await watermarks.get(s.orgId))! > 0);
  });

  test("runJob schedules the next pass; requestSoon and start-up move it to now", async () => {
    const scheduled: Array<{ kind: string; orgId?: string | null; dedupeKey: string; runAt: number }> = [];
    const jobs = {
      schedule: async (job: (typeof scheduled)[number]) => {
        scheduled.push(job);
      },
      unschedule: async () => {},
    };
    const s = await setup();
    const reconciler = createMessageReconciler({
      graph: { request: async <T>() => ({ status: 200, body: { value: [] } as T }) },
      seen,
      watermarks,
      onNewMessage: async () => {},
      events: { append: async () => {} },
      clock,
      limiter: createTeamsRateLimiter(),
      jobs,
      sleep: async () => {},
    });
    const now = clock.now();
    await reconciler.runJob(s.orgId);
    await reconciler.requestSoon(s.orgId);
    await reconciler.scheduleAtStartup(["a", "b"]);
    assert.deepEqual(
      scheduled.map((j) => [j.kind, j.orgId, j.dedupeKey, j.runAt - now]),
      [
        ["reconcile.messages", s.orgId, `reconcile.messages:${s.orgId}`, 5 * MINUTE],
        ["reconcile.messages", s.orgId, `reconcile.messages:${s.orgId}`, 0],
        ["reconcile.messages", "a", "reconcile.messages:a", 0],
        ["reconcile.messages", "b", "reconcile.messages:b", 0],
      ],
    );
  });
});
