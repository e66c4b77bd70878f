// The emulator's Microsoft Graph read side over real HTTPS: token checks, chats, chat messages with Graph's
// query rules (graph-change-notifications.md §7.4, §8.2), emergency-call chats and injected Graph faults.
import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import type { Emulator } from "../../emulator/index.ts";
import { control, seedOrg, startEmulator, type Org } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { httpRequest, type HttpResponse } from "../helpers/http-request.ts";
import { signIn } from "../helpers/sign-in.ts";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EMERGENCY_FRAGMENT = "has placed an Emergency Call";

let emu: Emulator;
const clock = new FakeClock();

before(async () => {
  emu = await startEmulator({ clock });
});
after(() => emu.close());
afterEach(async () => {
  await control(emu, "DELETE", "/_emulator/faults");
});

// ---------------------------------------------------------------- helpers

interface User {
  id: string;
  userPrincipalName: string;
}

let userCount = 0;
async function newUser(org: Org, displayName: string): Promise<User> {
  userCount += 1;
  return control(emu, "POST", `/_emulator/tenants/${org.tenantId}/users`, {
    displayName,
    userPrincipalName: `user${userCount}-${org.tenantId.slice(0, 8)}@contoso.example`,
  });
}

/** A delegated access token for `user` of `org`, by the code flow over HTTP. */
async function tokenFor(org: Org, user: User = org.serviceUser, scope?: string): Promise<string> {
  const tokens = await signIn(emu, { ...org, serviceUser: user }, scope ? { scope } : {});
  return tokens.access_token;
}

/** GET on Graph: `path` under `/v1.0`, or an absolute URL such as an `@odata.nextLink`. */
function graphGet(
  token: string | null,
  path: string,
  options: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpResponse> {
  const url = path.startsWith("https://") ? path : `${emu.url}/v1.0${path}`;
  return httpRequest(url, {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers },
    ca: emu.caPem,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
}

/** Graph's error envelope (https://learn.microsoft.com/graph/errors). */
function assertGraphError(
  res: HttpResponse,
  status: number,
  code: string,
): { code: string; message: string } {
  assert.equal(res.status, status, res.text);
  const { error } = res.json<{
    error: { code: string; message: string; innerError: Record<string, string> };
  }>();
  assert.equal(error.code, code, res.text);
  assert.equal(typeof error.message, "string");
  assert.ok(error.message.length > 0);
  assert.match(error.innerError.date!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
  assert.match(error.innerError["request-id"]!, GUID);
  assert.ok(error.innerError["client-request-id"]);
  return error;
}

const chatPath = (chatId: string) => `/chats/${encodeURIComponent(chatId)}`;

async function newChat(org: Org, members: User[], topic?: string): Promise<string> {
  const { chatId } = await control(emu, "POST", `/_emulator/tenants/${org.tenantId}/chats`, {
    memberIds: members.map((m) => m.id),
    ...(topic ? { topic } : {}),
  });
  return chatId;
}

async function post(org: Org, chatId: string, from: User, content: string): Promise<string> {
  const { messageId } = await control(
    emu,
    "POST",
    `/_emulator/tenants/${org.tenantId}/chats/${encodeURIComponent(chatId)}/messages`,
    { fromUserId: from.id, content },
  );
  return messageId;
}

interface CallResult {
  callId: string;
  messages: { userId: string; chatId: string; messageId: string }[];
}

function emergencyCall(org: Org, body: Record<string, unknown>): Promise<CallResult> {
  return control(emu, "POST", `/_emulator/tenants/${org.tenantId}/emergency-calls`, body);
}

interface Message {
  id: string;
  chatId: string;
  importance: string;
  messageType: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  body: { contentType: string; content: string };
  from: { user: { id: string; displayName: string; userIdentityType: string; "@odata.type": string } };
  [key: string]: unknown;
}

interface Page<T> {
  "@odata.context": string;
  "@odata.nextLink"?: string;
  value: T[];
}

// ---------------------------------------------------------------- authentication

test("GET /me: the token's user; no, expired or foreign-signed tokens are 401 InvalidAuthenticationToken", async () => {
  const org = await seedOrg(emu);
  const token = await tokenFor(org);
  const me = await graphGet(token, "/me");
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json().id, org.serviceUser.id);
  assert.equal(me.json().userPrincipalName, org.serviceUser.userPrincipalName);
  assert.equal(me.json().displayName, "Emergency Relay Service");

  const anonymous = await graphGet(null, "/me");
  assertGraphError(anonymous, 401, "InvalidAuthenticationToken");
  assert.match(String(anonymous.headers["www-authenticate"]), /^Bearer .*authorization_uri=/);
  assertGraphError(await graphGet("not-a-jwt", "/me"), 401, "InvalidAuthenticationToken");

  // The same claims and header, signed with a key the emulator never published.
  const { privateKey } = await generateKeyPair("RS256");
  const claims = decodeJwt(token);
  const forged = await new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: decodeProtectedHeader(token).kid! })
    .sign(privateKey);
  assertGraphError(await graphGet(forged, "/me"), 401, "InvalidAuthenticationToken");

  // Valid up to its `exp`, refused once the shared clock passes it.
  const expMs = claims.exp! * 1000;
  clock.advance(expMs - 1000 - clock.now());
  assert.equal((await graphGet(token, "/me")).status, 200, "still valid one second before exp");
  clock.advance(2000);
  const expired = assertGraphError(await graphGet(token, "/me"), 401, "InvalidAuthenticationToken");
  assert.match(expired.message, /expired/i);
});

test("a token without Chat.Read is 403 on chat messages, naming the scopes Graph accepts, while /me works", async () => {
  const org = await seedOrg(emu);
  const chatId = await newChat(org, [org.serviceUser, org.caller]);
  const messageId = await post(org, chatId, org.caller, "hello");
  const narrow = await tokenFor(org, org.serviceUser, "User.Read openid profile offline_access");

  assert.equal((await graphGet(narrow, "/me")).status, 200);
  for (const path of [`${chatPath(chatId)}/messages`, `${chatPath(chatId)}/messages/${messageId}`]) {
    const error = assertGraphError(await graphGet(narrow, path), 403, "Forbidden");
    assert.match(error.message, /Chat\.Read\b/, path);
    assert.match(error.message, /Chat\.ReadWrite/, path);
  }
  const list = assertGraphError(await graphGet(narrow, "/me/chats"), 403, "Forbidden");
  assert.match(list.message, /Chat\.ReadBasic/);

  const full = await tokenFor(org);
  assert.equal((await graphGet(full, `${chatPath(chatId)}/messages`)).status, 200);
});

// ---------------------------------------------------------------- chats and messages

test("chats and messages: list chats with previews, page filtered messages, read one message, membership and 404", async () => {
  const org = await seedOrg(emu);
  const third = await newUser(org, "Sam Third");
  const opsChat = await newChat(org, [org.serviceUser, org.caller, third], "Ops");

  const older: string[] = [];
  for (let i = 0; i < 3; i += 1) {
    clock.advance(1000);
    older.push(await post(org, opsChat, org.caller, `older ${i}`));
  }
  clock.advance(1000);
  const checkpoint = new Date(clock.now()).toISOString();
  const atCheckpoint = await post(org, opsChat, third, "exactly at the checkpoint");
  const newer: string[] = [];
  for (let i = 0; i < 5; i += 1) {
    clock.advance(1000);
    newer.push(await post(org, opsChat, i % 2 ? third : org.caller, `newer ${i}`));
  }
  clock.advance(1000);
  const call = await emergencyCall(org, {
    callerId: org.caller.id,
    dialString: "911",
    notify: [org.serviceUser.id],
    location: { kind: "dynamic", place: "Building 2, Floor 3", address: "1 Main St\nSpringfield" },
  });
  const emergencyChat = call.messages[0]!.chatId;
  const emergencyMessage = call.messages[0]!.messageId;
  assert.notEqual(emergencyChat, opsChat);
  // Updated last but without any message: first by lastUpdatedDateTime, last by preview.
  clock.advance(1000);
  const emptyChat = await newChat(org, [org.serviceUser, third], "Empty");
  const token = await tokenFor(org);

  // Chats, most recent preview first, previews only when expanded.
  const chats = await graphGet(
    token,
    `/me/chats?$expand=lastMessagePreview&$orderby=${encodeURIComponent("lastMessagePreview/createdDateTime desc")}`,
  );
  assert.equal(chats.status, 200, chats.text);
  const listed = chats.json<Page<Record<string, any>>>().value;
  assert.deepEqual(
    listed.map((c) => c.id),
    [emergencyChat, opsChat, emptyChat],
  );
  const [emergencyListed, opsListed, emptyListed] = listed;
  assert.equal(emptyListed!.lastMessagePreview, null, "a chat without messages has a null preview");
  assert.equal(emergencyListed!.chatType, "group");
  assert.equal(emergencyListed!.lastMessagePreview.id, emergencyMessage);
  assert.ok(emergencyListed!.lastMessagePreview.body.content.includes(EMERGENCY_FRAGMENT));
  assert.equal(emergencyListed!.lastMessagePreview.from.user.id, org.caller.id);
  assert.equal(opsListed!.topic, "Ops");
  assert.equal(opsListed!.lastMessagePreview.id, newer.at(-1));
  const plain = (await graphGet(token, "/me/chats")).json<Page<Record<string, unknown>>>().value;
  assert.deepEqual(
    plain.map((c) => c.id),
    [emptyChat, emergencyChat, opsChat],
    "without $orderby: most recently updated first",
  );
  for (const chat of plain) assert.ok(!("lastMessagePreview" in chat), "no preview without $expand");

  // Messages newer than the checkpoint, two per page, following the absolute nextLink.
  const filter = encodeURIComponent(`lastModifiedDateTime gt ${checkpoint}`);
  let next: string | undefined =
    `${chatPath(opsChat)}/messages?$orderby=${encodeURIComponent("lastModifiedDateTime desc")}&$filter=${filter}&$top=2`;
  const seen: string[] = [];
  const pageSizes: number[] = [];
  let late: string | undefined;
  while (next) {
    const res = await graphGet(token, next);
    assert.equal(res.status, 200, res.text);
    const page = res.json<Page<Message>>();
    pageSizes.push(page.value.length);
    seen.push(...page.value.map((m) => m.id));
    next = page["@odata.nextLink"];
    if (next) assert.ok(next.startsWith(`${emu.url}/v1.0/chats/`), `absolute nextLink: ${next}`);
    if (late === undefined) {
      // A message arriving mid-pagination must not shift the pages still to come.
      clock.advance(1000);
      late = await post(org, opsChat, org.caller, "arrived while paging");
    }
  }
  assert.deepEqual(seen, [...newer].reverse(), "each newer message exactly once, newest first");
  assert.deepEqual(pageSizes, [2, 2, 1]);
  assert.ok(!seen.includes(atCheckpoint), "gt excludes the checkpoint itself");

  // The same $filter without the matching $orderby is ignored: the whole history comes back.
  const unfiltered = await graphGet(token, `${chatPath(opsChat)}/messages?$filter=${filter}`);
  assert.equal(unfiltered.status, 200, unfiltered.text);
  assert.deepEqual(
    unfiltered.json<Page<Message>>().value.map((m) => m.id),
    [late!, ...[...newer].reverse(), atCheckpoint, ...[...older].reverse()],
  );

  // One message, the chatMessage shape (chatmessage-get).
  for (const path of [
    `${chatPath(emergencyChat)}/messages/${emergencyMessage}`,
    `/me${chatPath(emergencyChat)}/messages/${emergencyMessage}`,
    `/chats/${emergencyChat}/messages/${emergencyMessage}`,
  ]) {
    const res = await graphGet(token, path);
    assert.equal(res.status, 200, `${path}: ${res.text}`);
    const message = res.json<Message>();
    assert.match(String(message["@odata.context"]), /\/messages\/\$entity$/);
    assert.equal(message.id, emergencyMessage);
    assert.equal(message.chatId, emergencyChat);
    assert.equal(message.messageType, "message");
    assert.equal(message.importance, "high");
    assert.equal(message.from.user.id, org.caller.id);
    assert.equal(message.from.user.displayName, "Pat Caller");
    assert.equal(message.from.user.userIdentityType, "aadUser");
    assert.equal(message.from.user["@odata.type"], "#microsoft.graph.teamworkUserIdentity");
    assert.equal(message.body.contentType, "html");
    assert.ok(message.body.content.includes(EMERGENCY_FRAGMENT), message.body.content);
    assert.equal(message.locale, "en-us");
    assert.equal(message.replyToId, null);
    assert.equal(message.channelIdentity, null);
    assert.equal(typeof message.etag, "string");
    assert.ok(Array.isArray(message.attachments) && Array.isArray(message.mentions));
    assert.ok(!Number.isNaN(Date.parse(message.createdDateTime)));
    assert.ok(!("tenantId" in message) || typeof message.tenantId === "string");
  }

  // Someone outside the emergency chat may not read it; unknown chats and messages are 404.
  const outsider = await tokenFor(org, third);
  assert.equal((await graphGet(outsider, `${chatPath(opsChat)}/messages`)).status, 200);
  assertGraphError(await graphGet(outsider, `${chatPath(emergencyChat)}/messages`), 403, "Forbidden");
  assertGraphError(
    await graphGet(outsider, `${chatPath(emergencyChat)}/messages/${emergencyMessage}`),
    403,
    "Forbidden",
  );
  assertGraphError(
    await graphGet(token, `${chatPath("19:00000000000000000000000000000000@thread.v2")}/messages`),
    404,
    "NotFound",
  );
  assertGraphError(await graphGet(token, `${chatPath(opsChat)}/messages/1234`), 404, "NotFound");
});

// ---------------------------------------------------------------- emergency calls

test("emergency calls: each notified member gets a group chat with the caller, reused for later calls; dial string and location in the body", async () => {
  const org = await seedOrg(emu);
  const desk2 = await newUser(org, "Desk Two");
  const otherCaller = await newUser(org, "Bo Other");

  clock.advance(1000);
  const first = await emergencyCall(org, {
    callerId: org.caller.id,
    dialString: "911",
    notify: [org.serviceUser.id, desk2.id],
    location: { kind: "dynamic", place: "Wing A & B, Floor 2", address: "1 Main St\nSpringfield" },
  });
  assert.deepEqual(first.messages.map((m) => m.userId).sort(), [org.serviceUser.id, desk2.id].sort());
  const serviceChat = first.messages.find((m) => m.userId === org.serviceUser.id)!.chatId;
  const deskChat = first.messages.find((m) => m.userId === desk2.id)!.chatId;
  assert.notEqual(serviceChat, deskChat, "one chat per notified member");

  const calls: { dialString: string; location: Record<string, string>; expect: (string | RegExp)[] }[] = [
    { dialString: "933", location: { kind: "user", address: "22 Elm Rd" }, expect: ["933", "22 Elm Rd"] },
    { dialString: "112", location: { kind: "static", address: "5 Oak Ave" }, expect: ["112", "5 Oak Ave"] },
    { dialString: "911", location: { kind: "unknown" }, expect: ["911", /unknown/i] },
  ];
  const messageIds = [first.messages.find((m) => m.userId === org.serviceUser.id)!.messageId];
  for (const c of calls) {
    clock.advance(1000);
    const result = await emergencyCall(org, {
      callerId: org.caller.id,
      dialString: c.dialString,
      notify: [org.serviceUser.id],
      location: c.location,
    });
    assert.equal(result.messages.length, 1);
    assert.equal(result.messages[0]!.chatId, serviceChat, "the same caller reuses the chat");
    messageIds.push(result.messages[0]!.messageId);
  }
  clock.advance(1000);
  const fromOther = await emergencyCall(org, {
    callerId: otherCaller.id,
    dialString: "911",
    notify: [org.serviceUser.id],
  });
  assert.notEqual(fromOther.messages[0]!.chatId, serviceChat, "another caller, another chat");

  // The chat holds exactly caller and desk member.
  const state = await control(emu, "GET", "/_emulator/state");
  const stored = state.chats.find((c: { id: string }) => c.id === serviceChat);
  assert.deepEqual([...stored.memberIds].sort(), [org.caller.id, org.serviceUser.id].sort());
  assert.equal(stored.chatType, "group");

  const token = await tokenFor(org);
  const res = await graphGet(token, `${chatPath(serviceChat)}/messages`);
  assert.equal(res.status, 200, res.text);
  const byId = new Map(res.json<Page<Message>>().value.map((m) => [m.id, m]));
  assert.equal(byId.size, 4, "four calls, four messages in one chat");
  const expectations: (string | RegExp)[][] = [
    ["911", "Wing A &amp; B, Floor 2", "1 Main St", "Springfield"],
    ...calls.map((c) => c.expect),
  ];
  messageIds.forEach((id, i) => {
    const message = byId.get(id);
    assert.ok(message, `message ${id} of call ${i}`);
    assert.equal(message.importance, "high");
    assert.equal(message.from.user.id, org.caller.id);
    assert.equal(message.body.contentType, "html");
    assert.ok(message.body.content.includes(`Pat Caller ${EMERGENCY_FRAGMENT}`), message.body.content);
    for (const part of expectations[i]!) {
      if (typeof part === "string")
        assert.ok(message.body.content.includes(part), `${part} in ${message.body.content}`);
      else assert.match(message.body.content, part);
    }
  });

  const chats = (await graphGet(token, "/me/chats")).json<Page<{ id: string }>>().value.map((c) => c.id);
  assert.deepEqual(
    chats.sort(),
    [serviceChat, fromOther.messages[0]!.chatId].sort(),
    "desk2's chat is not ours",
  );
});

async function counts() {
  const state = await control(emu, "GET", "/_emulator/state");
  return {
    calls: state.emergencyCalls.length as number,
    chats: state.chats.length as number,
    messages: Object.values(state.messages as Record<string, unknown[]>).reduce(
      (n, list) => n + list.length,
      0,
    ),
  };
}

test("emergency calls: bad control input is 400 naming the problems, and nothing is created", async () => {
  const org = await seedOrg(emu);
  const before = await counts();
  const url = `/_emulator/tenants/${org.tenantId}/emergency-calls`;

  const several = await control(emu, "POST", url, { callerId: "no-such-user", dialString: "999" }, [400]);
  assert.match(several.error, /dialString/);
  assert.match(several.error, /911, 933 or 112/);
  assert.match(several.error, /notify/);

  const unknownCaller = await control(
    emu,
    "POST",
    url,
    { callerId: "no-such-user", dialString: "911", notify: [org.serviceUser.id] },
    [400],
  );
  assert.match(unknownCaller.error, /callerId/);
  assert.match(unknownCaller.error, /no-such-user/);

  const unknownMember = await control(
    emu,
    "POST",
    url,
    { callerId: org.caller.id, dialString: "911", notify: [org.serviceUser.id, "ghost-user"] },
    [400],
  );
  assert.match(unknownMember.error, /ghost-user/);

  const badLocation = await control(
    emu,
    "POST",
    url,
    { callerId: org.caller.id, dialString: "933", notify: [org.serviceUser.id], location: { kind: "moon" } },
    [400],
  );
  assert.match(badLocation.error, /location\.kind/);

  assert.deepEqual(await counts(), before, "no call, chat or message was created");
});

test("emergency calls: one 400 names an unknown caller together with the other problems", async () => {
  const org = await seedOrg(emu);
  const url = `/_emulator/tenants/${org.tenantId}/emergency-calls`;
  const res = await control(emu, "POST", url, { callerId: "no-such-user", dialString: "999" }, [400]);
  for (const problem of [/callerId/, /dialString/, /notify/]) assert.match(res.error, problem);
});

// ---------------------------------------------------------------- faults

test("graph faults: 429 with Retry-After on the matched route only, 503, and a hang the client times out on", async () => {
  const org = await seedOrg(emu);
  const chatId = await newChat(org, [org.serviceUser, org.caller]);
  await post(org, chatId, org.caller, "hello");
  const token = await tokenFor(org);
  const messages = `${chatPath(chatId)}/messages`;

  await control(emu, "POST", "/_emulator/faults", {
    target: "graph",
    kind: "http",
    status: 429,
    retryAfter: 3,
    match: "/messages",
  });
  assert.equal((await graphGet(token, "/me")).status, 200, "/me is not throttled");
  const clientRequestId = "5e0f6a59-8c1d-4b7e-9a3f-0d2c4b6a8e10";
  const throttled = await graphGet(token, messages, { headers: { "client-request-id": clientRequestId } });
  assert.equal(throttled.headers["retry-after"], "3");
  assertGraphError(throttled, 429, "TooManyRequests");
  assert.equal(throttled.json().error.innerError["client-request-id"], clientRequestId);
  assert.equal((await graphGet(token, messages)).status, 200, "the fault applied once");

  await control(emu, "POST", "/_emulator/faults", {
    target: "graph",
    kind: "http",
    status: 503,
    match: "/messages",
  });
  assertGraphError(await graphGet(token, messages), 503, "ServiceUnavailable");
  assert.equal((await graphGet(token, messages)).status, 200);

  await control(emu, "POST", "/_emulator/faults", { target: "graph", kind: "hang", match: "/messages" });
  assert.equal((await graphGet(token, "/me")).status, 200);
  const started = Date.now();
  await assert.rejects(graphGet(token, messages, { timeoutMs: 500 }), /timeout/);
  assert.ok(Date.now() - started >= 450, "no answer before the client gave up");
  assert.equal((await graphGet(token, messages)).status, 200, "the next call works");
});
