import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { GRAPH_CHANGE_TRACKING_APP_ID, type Emulator } from "../../emulator/index.ts";
import { createSelfSignedEncryptionCertificate } from "../../src/microsoft/encryption-certificate.ts";
import { decryptRichNotification } from "../../src/microsoft/decrypt-rich-notification.ts";
import { control, seedOrg, startEmulator, type Org } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { httpRequest } from "../helpers/http-request.ts";
import { graph, signIn, type Tokens } from "../helpers/sign-in.ts";
import { correctBehaviour, startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.ts";

const MINUTE = 60_000;
const clock = new FakeClock();
let emu: Emulator;
let receiver: WebhookReceiver;
let org: Org;
let tokens: Tokens;
// Each test gets its own endpoint paths: Graph judges throttling per endpoint, and earlier tests' subscriptions stay alive.
let testNumber = 0;
let NOTIFY = "";
let LIFECYCLE = "";

before(async () => {
  receiver = await startWebhookReceiver();
  emu = await startEmulator({
    clock,
    trustedCaPems: [receiver.caPem],
    // Real Graph allows 3 s / 10 s / 10 s; scaled down so the rules are exercised in milliseconds.
    firstAttemptTimeoutMs: 250,
    retryTimeoutMs: 700,
    validationTimeoutMs: 400,
    throttleMinSamples: 4,
    log: (m, f) => m.includes("failed") && console.log(m, f),
  });
});
after(async () => {
  await emu.close();
  await receiver.close();
});
beforeEach(async () => {
  testNumber += 1;
  NOTIFY = `/t${testNumber}/api/graph/notifications`;
  LIFECYCLE = `/t${testNumber}/api/graph/lifecycle`;
  receiver.behaviour = correctBehaviour;
  receiver.received.length = 0;
  await control(emu, "DELETE", "/_emulator/faults");
  org = await seedOrg(
    emu,
    `https://relay.example.test/api/org/${Math.random().toString(36).slice(2)}/ms-teams/callback`,
  );
  tokens = await signIn(emu, org);
});

const iso = (ms: number) => new Date(ms).toISOString();

function subscriptionBody(overrides: Record<string, unknown> = {}) {
  return {
    changeType: "created",
    notificationUrl: `${receiver.url}${NOTIFY}`,
    lifecycleNotificationUrl: `${receiver.url}${LIFECYCLE}`,
    resource: "/me/chats/getAllMessages",
    expirationDateTime: iso(clock.now() + 4200 * MINUTE),
    clientState: "secret-client-state",
    ...overrides,
  };
}

async function subscribe(overrides: Record<string, unknown> = {}, accessToken = tokens.access_token) {
  return graph(emu, accessToken, "POST", "/subscriptions", subscriptionBody(overrides));
}

async function emergencyCall(dialString = "911") {
  return control(emu, "POST", `/_emulator/tenants/${org.tenantId}/emergency-calls`, {
    callerId: org.caller.id,
    dialString,
    notify: [org.serviceUser.id],
    location: {
      kind: "dynamic",
      place: "4th floor, Room 401",
      address: "12345 North Main Street, Redmond, WA 98052",
    },
  });
}

describe("validation handshake", () => {
  test("a correct endpoint gets a POST with the token in the query and the subscription is created", async () => {
    const res = await subscribe();
    assert.equal(res.status, 201, res.text);
    const handshakes = receiver.received.filter((r) => r.query.has("validationToken"));
    assert.deepEqual(handshakes.map((h) => h.path).sort(), [LIFECYCLE, NOTIFY].sort());
    for (const h of handshakes) {
      assert.match(
        h.query.get("validationToken")!,
        /^Validation: Testing client application reachability for subscription Request-Id: /,
      );
      assert.match(h.contentType ?? "", /^text\/plain/);
      assert.equal(h.body, "");
    }
  });

  const failures: [
    string,
    (token: string) => { status?: number; contentType?: string; body?: string; delayMs?: number },
    RegExp,
  ][] = [
    [
      "202 instead of 200",
      (t) => ({ status: 202, contentType: "text/plain", body: t }),
      /must respond with 200 OK/,
    ],
    [
      "JSON instead of text/plain",
      (t) => ({ status: 200, contentType: "application/json", body: JSON.stringify(t) }),
      /text\/plain/,
    ],
    [
      "the token still URL-encoded",
      (t) => ({ status: 200, contentType: "text/plain", body: encodeURIComponent(t) }),
      /exactly match/,
    ],
    [
      "a trailing newline",
      (t) => ({ status: 200, contentType: "text/plain", body: `${t}\n` }),
      /exactly match/,
    ],
    [
      "no answer within the timeout",
      (t) => ({ status: 200, contentType: "text/plain", body: t, delayMs: 900 }),
      /timed out/,
    ],
  ];
  for (const [name, answer, message] of failures) {
    test(`an endpoint answering with ${name} fails creation with 400`, async () => {
      receiver.behaviour = (req) => {
        const token = req.query.get("validationToken");
        return token === null ? undefined : answer(token);
      };
      const res = await subscribe();
      assert.equal(res.status, 400, res.text);
      assert.match(res.json().error.message, message);
      assert.equal(
        [...emu.state.subscriptions.values()].filter((s) => s.creatorId === org.serviceUser.id).length,
        0,
      );
    });
  }

  test("the lifecycle URL is validated separately: a bad lifecycle endpoint fails creation", async () => {
    receiver.behaviour = (req) =>
      req.path === LIFECYCLE && req.query.has("validationToken") ? { status: 500 } : undefined;
    const res = await subscribe();
    assert.equal(res.status, 400, res.text);
    assert.ok(receiver.received.some((r) => r.path === NOTIFY && r.query.has("validationToken")));
  });

  test("notification URLs must be HTTPS", async () => {
    const res = await subscribe({ notificationUrl: "http://127.0.0.1:9/api/graph/notifications" });
    assert.equal(res.status, 400);
    assert.match(res.json().error.message, /HTTPS/);
  });
});

describe("subscription rules", () => {
  test("an expiration beyond 4320 minutes is refused; under 45 minutes is raised to 45 minutes", async () => {
    const tooLong = await subscribe({ expirationDateTime: iso(clock.now() + 4321 * MINUTE) });
    assert.equal(tooLong.status, 400);
    assert.match(tooLong.json().error.message, /4320 minutes/);
    const maximum = await subscribe({ expirationDateTime: iso(clock.now() + 4320 * MINUTE) });
    assert.equal(maximum.status, 201, maximum.text);
    await graph(emu, tokens.access_token, "DELETE", `/subscriptions/${maximum.json().id}`);

    const short = await subscribe({
      expirationDateTime: iso(clock.now() + 5 * MINUTE),
      lifecycleNotificationUrl: undefined,
    });
    assert.equal(short.status, 201, short.text);
    assert.equal(Date.parse(short.json().expirationDateTime), clock.now() + 45 * MINUTE);
  });

  test("lifecycleNotificationUrl is required beyond one hour and cannot be added by PATCH", async () => {
    const missing = await subscribe({ lifecycleNotificationUrl: undefined });
    assert.equal(missing.status, 400);
    assert.match(missing.json().error.message, /lifecycleNotificationUrl is a required property/);

    const hour = await subscribe({
      lifecycleNotificationUrl: undefined,
      expirationDateTime: iso(clock.now() + 60 * MINUTE),
    });
    assert.equal(hour.status, 201, hour.text);
    const id = hour.json().id;
    const add = await graph(emu, tokens.access_token, "PATCH", `/subscriptions/${id}`, {
      lifecycleNotificationUrl: `${receiver.url}${LIFECYCLE}`,
      expirationDateTime: iso(clock.now() + 3000 * MINUTE),
    });
    assert.equal(add.status, 400);
    const extend = await graph(emu, tokens.access_token, "PATCH", `/subscriptions/${id}`, {
      expirationDateTime: iso(clock.now() + 3000 * MINUTE),
    });
    assert.equal(extend.status, 400);
    assert.match(extend.json().error.message, /lifecycleNotificationUrl/);
  });

  test("a second subscription for the same changeType and resource gets 409 naming the existing one", async () => {
    const first = await subscribe();
    assert.equal(first.status, 201);
    const again = await subscribe({ resource: `/users/${org.serviceUser.id}/chats/getAllMessages` });
    assert.equal(again.status, 409);
    assert.match(again.json().error.message, new RegExp(`Subscription Id ${first.json().id} already exists`));
  });

  test("past 10 all-chats subscriptions for one user, creation gets 403", async () => {
    const changeTypes = [
      "created",
      "updated",
      "deleted",
      "created,updated",
      "created,deleted",
      "updated,deleted",
      "created,updated,deleted",
    ];
    for (const changeType of changeTypes) assert.equal((await subscribe({ changeType })).status, 201);
    // A second app of the same user shares the per-user quota.
    const other = await control(emu, "POST", `/_emulator/tenants/${org.tenantId}/apps`, {
      displayName: "Other",
      redirectUris: [org.redirectUri],
    });
    const otherTokens = await signIn(emu, {
      ...org,
      clientId: other.clientId,
      clientSecret: other.clientSecret,
    });
    for (const changeType of changeTypes.slice(0, 3))
      assert.equal((await subscribe({ changeType }, otherTokens.access_token)).status, 201);
    const eleventh = await subscribe({ changeType: "created,updated" }, otherTokens.access_token);
    assert.equal(eleventh.status, 403, eleventh.text);
    assert.match(eleventh.json().error.message, /maximum number of 10 subscriptions/);
  });

  test("delegated callers may watch /me/chats/getAllMessages but not the tenant-wide /chats/getAllMessages", async () => {
    const tenantWide = await subscribe({ resource: "/chats/getAllMessages" });
    assert.ok(tenantWide.status === 401 || tenantWide.status === 403, tenantWide.text);
    assert.match(tenantWide.json().error.message, /Chat\.Read\.All/);
    const noChatRead = await signIn(emu, org, {
      scope: "User.Read Chat.ReadBasic openid profile offline_access",
    });
    const refused = await subscribe({}, noChatRead.access_token);
    assert.equal(refused.status, 403);
    assert.match(refused.json().error.message, /Chat\.Read/);
  });

  test("includeResourceData needs an encryption certificate", async () => {
    const res = await subscribe({ includeResourceData: true });
    assert.equal(res.status, 400);
    assert.match(res.json().error.message, /encryptionCertificate/);
  });

  test("PATCH renews, GET and list show it, DELETE removes it", async () => {
    const id = (await subscribe()).json().id;
    const renewed = await graph(emu, tokens.access_token, "PATCH", `/subscriptions/${id}`, {
      expirationDateTime: iso(clock.now() + 4000 * MINUTE),
    });
    assert.equal(renewed.status, 200, renewed.text);
    assert.equal(Date.parse(renewed.json().expirationDateTime), clock.now() + 4000 * MINUTE);
    assert.equal((await graph(emu, tokens.access_token, "GET", `/subscriptions/${id}`)).status, 200);
    assert.deepEqual(
      (await graph(emu, tokens.access_token, "GET", "/subscriptions"))
        .json()
        .value.map((s: { id: string }) => s.id),
      [id],
    );
    assert.equal(
      (await graph(emu, tokens.access_token, "POST", `/subscriptions/${id}/reauthorize`)).status,
      204,
    );
    assert.equal(
      emu.state.protocolViolations.filter((v) => v.subscriptionId === id).length,
      1,
      "reauthorize right after PATCH is recorded",
    );
    assert.equal((await graph(emu, tokens.access_token, "DELETE", `/subscriptions/${id}`)).status, 204);
    assert.equal((await graph(emu, tokens.access_token, "GET", `/subscriptions/${id}`)).status, 404);
  });
});

describe("delivery", () => {
  test("an emergency call reaches a basic subscription as a batch item with clientState and resource only", async () => {
    const sub = (await subscribe()).json();
    const call = await emergencyCall();
    await emu.settle();
    const items = receiver.notifications(NOTIFY);
    assert.equal(items.length, 1);
    const [item] = items;
    assert.equal(item.subscriptionId, sub.id);
    assert.equal(item.clientState, "secret-client-state");
    assert.equal(item.changeType, "created");
    assert.equal(item.tenantId, org.tenantId);
    assert.equal(
      item.resource,
      `chats('${call.messages[0].chatId}')/messages('${call.messages[0].messageId}')`,
    );
    assert.equal(item.resourceData.id, call.messages[0].messageId);
    assert.equal(item.encryptedContent, undefined);
    const delivery = emu.state.deliveries.find((d) => d.subscriptionId === sub.id)!;
    assert.equal(delivery.status, "delivered");
    assert.equal(delivery.attempts.length, 1);
  });

  test("rich notifications decrypt with the relay's own module and carry validation tokens Graph would sign", async () => {
    const certificate = await createSelfSignedEncryptionCertificate({ commonName: "relay-test" });
    (
      await subscribe({
        includeResourceData: true,
        encryptionCertificate: certificate.base64Der,
        encryptionCertificateId: "cert-1",
      })
    ).json();
    await emergencyCall("933");
    await emergencyCall("112");
    await emu.settle();
    const batches = receiver.received.filter((r) => r.path === NOTIFY && r.json);
    const items = batches.flatMap((b) => b.json.value);
    assert.equal(items.length, 2);
    for (const item of items) {
      const message = (await decryptRichNotification(item.encryptedContent, {
        resolve: (id) => (id === "cert-1" ? { privateKey: certificate.privateKeyPem } : undefined),
      })) as { id: string; importance: string; body: { content: string }; from: { user: { id: string } } };
      assert.equal(message.id, item.resourceData.id);
      assert.equal(message.importance, "high");
      assert.equal(message.from.user.id, org.caller.id);
      assert.match(message.body.content, /has placed an Emergency Call/);
    }
    const issuers = new Set<string>();
    for (const batch of batches) {
      assert.equal(batch.json.validationTokens.length, 1, "one token per app and tenant pair");
      const token = batch.json.validationTokens[0];
      const claims = decodeJwt(token);
      issuers.add(String(claims.iss));
      assert.equal(claims.aud, org.clientId);
      assert.equal(claims.tid, org.tenantId);
      assert.equal(claims.ver === "1.0" ? claims.appid : claims.azp, GRAPH_CHANGE_TRACKING_APP_ID);
      await verifyWithEmulatorKeys(token);
    }
    assert.deepEqual([...issuers].sort(), [
      `https://login.microsoftonline.com/${org.tenantId}/v2.0`,
      `https://sts.windows.net/${org.tenantId}/`,
    ]);
  });

  test("a failed delivery is retried with backoff, with the longer retry timeout, until it succeeds", async () => {
    const sub = (await subscribe()).json();
    let calls = 0;
    // First try answers after 450 ms: over the 250 ms first-try timeout but under the 700 ms retry timeout.
    receiver.behaviour = (req) =>
      req.query.has("validationToken") || req.path !== NOTIFY
        ? undefined
        : (calls++, { status: 202, delayMs: 450 });
    await emergencyCall();
    await emu.settle();
    const delivery = emu.state.deliveries.find((d) => d.subscriptionId === sub.id)!;
    assert.equal(delivery.status, "pending");
    assert.equal(delivery.attempts.length, 1);
    assert.equal(delivery.attempts[0]!.timedOut, true);
    assert.ok(delivery.nextAttemptAt > clock.now(), "the retry waits for the backoff");
    clock.advance(delivery.nextAttemptAt - clock.now());
    await emu.settle();
    assert.equal(delivery.status, "delivered");
    assert.equal(delivery.attempts.length, 2);
    assert.equal(delivery.attempts[1]!.timedOut, false);
    assert.equal(calls, 2);
  });

  test("retries stop after 4 hours and the item is marked failed", async () => {
    const sub = (await subscribe()).json();
    receiver.behaviour = (req) =>
      req.query.has("validationToken") || req.path !== NOTIFY ? undefined : { status: 500 };
    await emergencyCall();
    await emu.settle();
    const delivery = emu.state.deliveries.find((d) => d.subscriptionId === sub.id)!;
    const gaps: number[] = [];
    while (delivery.status === "pending") {
      const gap = delivery.nextAttemptAt - clock.now();
      gaps.push(gap);
      clock.advance(gap);
      await emu.settle();
    }
    assert.equal(delivery.status, "failed");
    const span = delivery.attempts.at(-1)!.at - delivery.attempts[0]!.at;
    assert.ok(span >= 4 * 60 * MINUTE && span < 5 * 60 * MINUTE, `retried over ${span / MINUTE} min`);
    assert.ok(gaps[1]! > gaps[0]! && gaps[2]! > gaps[1]!, `backoff grows: ${gaps.slice(0, 4).join(", ")}`);
  });

  test("a slow endpoint is throttled: new notifications wait 10 minutes", async () => {
    const sub = (await subscribe()).json();
    receiver.behaviour = (req) =>
      req.query.has("validationToken") || req.path !== NOTIFY ? undefined : { status: 202, delayMs: 350 };
    for (let i = 0; i < 4; i++) {
      await emergencyCall();
      await emu.settle();
    }
    receiver.behaviour = correctBehaviour;
    const endpoint = emu.state.endpoints.get(`${receiver.url}${NOTIFY}`)!;
    assert.ok(endpoint.slowUntil > clock.now(), "endpoint judged slow");
    await emergencyCall();
    await emu.settle();
    const latest = emu.state.deliveries.filter((d) => d.subscriptionId === sub.id).at(-1)!;
    assert.equal(latest.status, "pending");
    assert.equal(latest.nextAttemptAt, clock.now() + 10 * MINUTE);
    clock.advance(10 * MINUTE);
    await emu.settle();
    assert.equal(latest.status, "delivered");
  });

  test("an endpoint whose retries time out is put in drop state and new notifications are lost", async () => {
    const sub = (await subscribe()).json();
    receiver.behaviour = (req) =>
      req.query.has("validationToken") || req.path !== NOTIFY ? undefined : { status: 202, delayMs: 900 };
    await emergencyCall();
    await emu.settle();
    const first = emu.state.deliveries.find((d) => d.subscriptionId === sub.id)!;
    for (let i = 0; i < 3; i++) {
      clock.advance(first.nextAttemptAt - clock.now());
      await emu.settle();
    }
    const endpoint = emu.state.endpoints.get(`${receiver.url}${NOTIFY}`)!;
    assert.ok(endpoint.dropUntil > clock.now(), "endpoint judged to drop");
    receiver.behaviour = correctBehaviour;
    await emergencyCall();
    const latest = emu.state.deliveries.filter((d) => d.subscriptionId === sub.id).at(-1)!;
    assert.equal(latest.status, "dropped");
    clock.advance(11 * MINUTE);
    await emergencyCall();
    await emu.settle();
    assert.equal(emu.state.deliveries.filter((d) => d.subscriptionId === sub.id).at(-1)!.status, "delivered");
  });

  test("delivery faults: duplicate, reorder, delay and drop", async () => {
    const sub = (await subscribe()).json();
    await control(emu, "POST", "/_emulator/faults", { target: "delivery", kind: "duplicate" });
    const a = await emergencyCall();
    await emu.settle();
    assert.deepEqual(
      receiver.notifications(NOTIFY).map((i) => i.resourceData.id),
      [a.messages[0].messageId, a.messages[0].messageId],
    );

    receiver.received.length = 0;
    await control(emu, "POST", "/_emulator/faults", { target: "delivery", kind: "reorder" });
    const b = await emergencyCall();
    await emu.settle();
    assert.equal(receiver.notifications(NOTIFY).length, 0, "the reordered item waits for the next one");
    const c = await emergencyCall();
    await emu.settle();
    assert.deepEqual(
      receiver.notifications(NOTIFY).map((i) => i.resourceData.id),
      [c.messages[0].messageId, b.messages[0].messageId],
    );

    receiver.received.length = 0;
    await control(emu, "POST", "/_emulator/faults", { target: "delivery", kind: "delay", delaySeconds: 90 });
    await emergencyCall();
    await emu.settle();
    assert.equal(receiver.notifications(NOTIFY).length, 0);
    clock.advance(90_000);
    await emu.settle();
    assert.equal(receiver.notifications(NOTIFY).length, 1);

    receiver.received.length = 0;
    await control(emu, "POST", "/_emulator/faults", { target: "delivery", kind: "drop" });
    await emergencyCall();
    await emu.settle();
    assert.equal(receiver.notifications(NOTIFY).length, 0);
    assert.equal(emu.state.deliveries.filter((d) => d.subscriptionId === sub.id).at(-1)!.status, "dropped");
  });
});

describe("lifecycle", () => {
  test("reauthorizationRequired arrives before the authorizing token expires, every 15 minutes, until renewed", async () => {
    const sub = emu.state.subscriptions.get((await subscribe()).json().id)!;
    clock.advance(sub.authorizedUntil - clock.now() - 20 * MINUTE);
    await emu.settle();
    assert.equal(receiver.notifications(LIFECYCLE).length, 0, "not yet");
    clock.advance(6 * MINUTE);
    await emu.settle();
    assert.deepEqual(
      receiver.notifications(LIFECYCLE).map((i) => i.lifecycleEvent),
      ["reauthorizationRequired"],
    );
    assert.equal(receiver.notifications(LIFECYCLE)[0].clientState, "secret-client-state");
    clock.advance(5 * MINUTE);
    await emu.settle();
    assert.equal(receiver.notifications(LIFECYCLE).length, 1, "no repeat within 15 minutes");
    clock.advance(10 * MINUTE);
    await emu.settle();
    assert.equal(receiver.notifications(LIFECYCLE).length, 2);

    const fresh = await signIn(emu, org);
    const renewed = await graph(emu, fresh.access_token, "PATCH", `/subscriptions/${sub.id}`, {
      expirationDateTime: iso(clock.now() + 4000 * MINUTE),
    });
    assert.equal(renewed.status, 200);
    clock.advance(15 * MINUTE);
    await emu.settle();
    assert.equal(receiver.notifications(LIFECYCLE).length, 2, "renewal reauthorized it");
  });

  test("without reauthorization, deliveries pause and changes in the pause are lost", async () => {
    const sub = emu.state.subscriptions.get((await subscribe()).json().id)!;
    clock.advance(sub.authorizedUntil - clock.now() + emu.settings.authorizationGraceMs + MINUTE);
    await emergencyCall();
    await emu.settle();
    assert.equal(receiver.notifications(NOTIFY).length, 0);
    assert.equal(
      emu.state.deliveries.filter((d) => d.subscriptionId === sub.id && d.kind === "change").at(-1)!.status,
      "lost",
    );
    const fresh = await signIn(emu, org);
    assert.equal(
      (await graph(emu, fresh.access_token, "POST", `/subscriptions/${sub.id}/reauthorize`)).status,
      204,
    );
    await emergencyCall();
    await emu.settle();
    assert.equal(receiver.notifications(NOTIFY).length, 1);
  });

  test("revoking the service user's sessions asks for reauthorization at once", async () => {
    await subscribe();
    await control(
      emu,
      "POST",
      `/_emulator/tenants/${org.tenantId}/users/${org.serviceUser.id}/revoke-sessions`,
    );
    await emu.settle();
    assert.deepEqual(
      receiver.notifications(LIFECYCLE).map((i) => i.lifecycleEvent),
      ["reauthorizationRequired"],
    );
  });

  test("subscriptionRemoved on demand is delivered and the subscription is gone", async () => {
    const id = (await subscribe()).json().id;
    const res = await control(emu, "POST", `/_emulator/subscriptions/${id}/lifecycle`, {
      event: "subscriptionRemoved",
    });
    assert.ok(res.deliveryId);
    await emu.settle();
    assert.deepEqual(
      receiver.notifications(LIFECYCLE).map((i) => i.lifecycleEvent),
      ["subscriptionRemoved"],
    );
    assert.equal((await graph(emu, tokens.access_token, "GET", `/subscriptions/${id}`)).status, 404);
    await emergencyCall();
    await emu.settle();
    assert.equal(receiver.notifications(NOTIFY).length, 0);
  });

  test("an expired subscription stops delivering and is no longer found", async () => {
    const sub = (
      await subscribe({
        lifecycleNotificationUrl: undefined,
        expirationDateTime: iso(clock.now() + 50 * MINUTE),
      })
    ).json();
    clock.advance(51 * MINUTE);
    await emergencyCall();
    await emu.settle();
    assert.equal(receiver.notifications(NOTIFY).length, 0);
    assert.equal((await graph(emu, tokens.access_token, "GET", `/subscriptions/${sub.id}`)).status, 404);
  });
});

async function verifyWithEmulatorKeys(token: string) {
  const jwks = (await httpRequest(`${emu.url}/common/discovery/v2.0/keys`, { ca: emu.caPem })).json();
  return jwtVerify(token, createLocalJWKSet(jwks), { currentDate: new Date(clock.now()) });
}
