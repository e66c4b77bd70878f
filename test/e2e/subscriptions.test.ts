import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import type { Emulator } from "../../emulator/index.ts";
import { decryptRichNotification } from "../../src/microsoft/decrypt-rich-notification.ts";
import { certificateThumbprint } from "../../src/microsoft/encryption-certificate.ts";
import type { InboxEntry } from "../../src/storage/inbox-store.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { startGraphRecorder, type GraphRecorder } from "../helpers/graph-recorder.ts";
import { httpRequest } from "../helpers/http-request.ts";
import {
  connectOrg,
  createOrgWithApp,
  runJobsUntil,
  seedTenant,
  startTestRelay,
  type TenantSetup,
  type TestRelay,
} from "../helpers/relay-setup.ts";
import { graph, signIn } from "../helpers/sign-in.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const RESOURCE = "/me/chats/getAllMessages";
const clock = new FakeClock();
let emu: Emulator;
let recorder: GraphRecorder;
let relay: TestRelay;
/** Inbox lifecycle items already handed to the keeper (the inbox worker's job once it lands). */
const handled = new Set<string>();

before(async () => {
  // The relay listens on plain http on loopback; real Graph only calls https webhooks.
  emu = await startEmulator({ clock, allowHttpWebhooks: true });
  recorder = await startGraphRecorder(emu);
  relay = await startTestRelay(emu, clock, { RELAY_GRAPH_BASE_URL: recorder.url });
});
after(async () => {
  await relay.close();
  await recorder.close();
  await emu.close();
});
afterEach(async () => {
  await control(emu, "DELETE", "/_emulator/faults");
  const { orgs } = (await relay.api("GET", "/api/orgs")).json();
  for (const org of orgs) assert.equal((await relay.api("DELETE", `/api/orgs/${org.id}`)).status, 204);
});

async function status(orgId: string) {
  const res = await relay.api("GET", `/api/org/${orgId}/ms-teams/status`);
  assert.equal(res.status, 200, res.text);
  return res.json();
}

async function events(
  orgId: string,
): Promise<{ kind: string; severity: string; message: string; details: any }[]> {
  const res = await relay.api("GET", `/api/org/${orgId}/events`);
  assert.equal(res.status, 200, res.text);
  return [...res.json().events].reverse();
}

const kinds = async (orgId: string) => (await events(orgId)).map((e) => e.kind);

function subscriptionsOf(tenantId: string) {
  return [...emu.state.subscriptions.values()].filter((s) => s.tenantId === tenantId);
}

function activeSubscriptionsOf(tenantId: string) {
  return subscriptionsOf(tenantId).filter((s) => !s.removed && s.expirationDateTime > clock.now());
}

function violationsOf(subscriptionId: string) {
  return emu.state.protocolViolations.filter((v) => v.subscriptionId === subscriptionId);
}

/** The worker's part for lifecycle items: hand each new one to the subscription keeper. */
/** Lets the relay's inbox worker finish, and counts the lifecycle items it handled since the last call. */
async function handleLifecycleItems(): Promise<number> {
  await relay.relay.intake.processInbox();
  let count = 0;
  for (const entry of await relay.relay.intake.inbox.list({ kind: "lifecycle", status: "processed" })) {
    if (handled.has(entry.id)) continue;
    handled.add(entry.id);
    count += 1;
  }
  return count;
}

async function lifecycleEvent(subscriptionId: string, event: string) {
  await control(emu, "POST", `/_emulator/subscriptions/${subscriptionId}/lifecycle`, { event });
  await emu.settle();
}

async function emergencyCall(tenant: TenantSetup) {
  const call = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/emergency-calls`, {
    callerId: tenant.otherUser.id,
    dialString: "933",
    notify: [tenant.serviceUser.id],
    location: { kind: "dynamic", place: "Building 4, Floor 2" },
  });
  await emu.settle();
  return call.messages[0] as { chatId: string; messageId: string };
}

async function decrypt(entry: InboxEntry): Promise<any> {
  return decryptRichNotification(entry.item.encryptedContent, {
    resolve: async (id) => {
      const key = await relay.relay.intake.keyring.resolve(id);
      return key && { privateKey: key.privateKeyPem, thumbprint: key.thumbprint };
    },
  });
}

async function metric(name: string): Promise<number> {
  const text = (await httpRequest(`${relay.url}/metrics`)).text;
  const escaped = name.replace(/[{}"=]/g, (c) => `\\${c}`);
  const match = new RegExp(`^${escaped} (\\S+)$`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

/** A tenant, its org in the relay, connected; then the jobs due now (the subscription's ensure) run. */
async function connectedOrg() {
  const tenant = await seedTenant(emu);
  const org = await createOrgWithApp(emu, relay, tenant);
  const page = await connectOrg(emu, relay, org.orgId);
  assert.equal(page.status, 200, page.text);
  await relay.relay.scheduler.runDue();
  const [subscription] = activeSubscriptionsOf(tenant.tenantId);
  assert.ok(subscription, "a subscription was created");
  return { tenant, ...org, subscriptionId: subscription.id };
}

describe("creating the subscription", () => {
  test("connecting creates one rich subscription on the service user's chats, both URLs validated, listed in status", async () => {
    const handshakesBefore = await metric("relay_notification_handshakes_total");
    const postsBefore = recorder.callsTo("POST", /^\/v1\.0\/subscriptions$/).length;
    const { tenant, orgId, subscriptionId } = await connectedOrg();

    const subscriptions = subscriptionsOf(tenant.tenantId);
    assert.equal(subscriptions.length, 1);
    const sub = subscriptions[0]!;
    assert.equal(sub.id, subscriptionId);
    assert.equal(sub.resource, RESOURCE);
    assert.equal(sub.changeType, "created,updated");
    assert.equal(sub.notificationUrl, `${relay.url}/api/graph/notifications`);
    assert.equal(sub.lifecycleNotificationUrl, `${relay.url}/api/graph/lifecycle`);
    assert.equal(sub.includeResourceData, true);
    assert.match(sub.encryptionCertificateId!, new RegExp(`^relay-${orgId}-[0-9a-f]+$`));
    assert.ok(sub.encryptionCertificateId!.length <= 128);
    assert.ok(sub.clientState!.length >= 32 && sub.clientState!.length <= 128, "a random clientState");
    assert.ok(Math.abs(sub.expirationDateTime - (clock.now() + 4200 * MINUTE)) <= MINUTE, "about 4200 min");
    assert.equal(recorder.callsTo("POST", /^\/v1\.0\/subscriptions$/).length, postsBefore + 1);
    // Graph validated the notification URL and the lifecycle URL before creating it.
    assert.equal((await metric("relay_notification_handshakes_total")) - handshakesBefore, 2);

    const s = await status(orgId);
    assert.deepEqual(s.subscriptions, [
      {
        id: sub.id,
        resource: RESOURCE,
        expiresAt: new Date(sub.expirationDateTime).toISOString(),
        lastRenewedAt: null,
        lastNotificationAt: null,
        state: "active",
      },
    ]);
    assert.deepEqual(await kinds(orgId), ["connected", "subscription_created"]);

    const key = await relay.relay.intake.keyring.resolve(sub.encryptionCertificateId!);
    assert.equal(key?.orgId, orgId);
    assert.equal(key?.thumbprint, certificateThumbprint(sub.encryptionCertificate!));
    assert.match(key!.privateKeyPem, /BEGIN PRIVATE KEY/);
    const known = await relay.relay.intake.subscriptions.find(sub.id);
    assert.deepEqual(known, { id: sub.id, orgId, clientState: sub.clientState, includeResourceData: true });

    // The clientState and the private key are stored sealed, and never logged.
    const keyBody = key!.privateKeyPem.split("\n")[1]!;
    const files = (await readdir(relay.dataDir)).filter((f) => f.startsWith("relay.db"));
    const haystacks = [relay.logs.join("")];
    for (const f of files) haystacks.push((await readFile(path.join(relay.dataDir, f))).toString("latin1"));
    for (const text of haystacks) {
      assert.ok(!text.includes(sub.clientState!), "clientState in clear");
      assert.ok(!text.includes(keyBody), "private key in clear");
    }
  });

  test("an emergency call reaches the relay and lands in the inbox once, even when Graph delivers it twice", async () => {
    const { tenant, orgId, subscriptionId } = await connectedOrg();
    const sub = emu.state.subscriptions.get(subscriptionId)!;
    await control(emu, "POST", "/_emulator/faults", {
      target: "delivery",
      kind: "duplicate",
      match: "/api/graph/notifications",
    });
    const duplicatesBefore = await metric('relay_notifications_received_total{result="duplicate"}');
    const message = await emergencyCall(tenant);

    const deliveries = emu.state.deliveries.filter(
      (d) => d.subscriptionId === subscriptionId && d.kind === "change",
    );
    assert.equal(deliveries.length, 2, "Graph delivered it twice");
    assert.ok(deliveries.every((d) => d.status === "delivered"));
    const items = await relay.relay.intake.inbox.list({ subscriptionId, kind: "change" });
    assert.equal(items.length, 1, "stored once");
    const [item] = items;
    assert.equal(item!.orgId, orgId);
    assert.equal(item!.status, "pending");
    assert.equal(item!.item.clientState, undefined, "the clientState is not stored");
    assert.equal(item!.item.resource, `chats('${message.chatId}')/messages('${message.messageId}')`);
    assert.equal(item!.validationTokens.length, 1);
    assert.equal((item!.item.encryptedContent as any).encryptionCertificateId, sub.encryptionCertificateId);
    const decrypted = await decrypt(item!);
    assert.equal(decrypted.id, message.messageId);
    assert.match(decrypted.body.content, /has placed an Emergency Call/);
    assert.equal(
      (await metric('relay_notifications_received_total{result="duplicate"}')) - duplicatesBefore,
      1,
    );
  });
});

describe("keeping it alive", () => {
  test("30 days of renewals: the subscription never lapses, and Graph saw no protocol violation", async () => {
    const { tenant, orgId, subscriptionId } = await connectedOrg();
    const sub = emu.state.subscriptions.get(subscriptionId)!;
    const start = clock.now();
    const expiries = new Set<number>([sub.expirationDateTime]);
    let leastLeft = Infinity;
    for (let day = 1; day <= 30; day++) {
      await runJobsUntil(relay, clock, start + day * DAY, async (now) => {
        assert.ok(!sub.removed && sub.expirationDateTime > now, `lapsed at ${new Date(now).toISOString()}`);
        leastLeft = Math.min(leastLeft, sub.expirationDateTime - now);
        expiries.add(sub.expirationDateTime);
      });
      assert.ok(!sub.removed && sub.expirationDateTime > clock.now(), `lapsed on day ${day}`);
      expiries.add(sub.expirationDateTime);
    }
    // Renewed whenever under 24 h were left: every ~46 h, 15 times in 30 days.
    assert.ok(leastLeft >= 23 * HOUR, `${leastLeft / HOUR} h left at the tightest moment`);
    assert.ok(expiries.size >= 15, `${expiries.size} expiries`);
    const state = await control(emu, "GET", "/_emulator/state");
    assert.deepEqual(
      state.protocolViolations.filter((v: { subscriptionId: string }) => v.subscriptionId === subscriptionId),
      [],
    );
    assert.equal(
      recorder.callsTo("POST", new RegExp(`/subscriptions/${subscriptionId}/reauthorize$`)).length,
      0,
    );
    assert.deepEqual(
      activeSubscriptionsOf(tenant.tenantId).map((s) => s.id),
      [subscriptionId],
      "still the one subscription",
    );
    const s = await status(orgId);
    assert.equal(s.subscriptions.length, 1);
    assert.equal(s.subscriptions[0].id, subscriptionId);
    assert.equal(s.subscriptions[0].state, "active");
    assert.equal(s.subscriptions[0].expiresAt, new Date(sub.expirationDateTime).toISOString());
    assert.ok(Date.parse(s.subscriptions[0].lastRenewedAt) > clock.now() - 47 * HOUR);
    assert.deepEqual(await kinds(orgId), ["connected", "subscription_created"]);
  });

  test("three days with every reauthorizationRequired answered by one PATCH: deliveries never pause", async () => {
    const { tenant, subscriptionId } = await connectedOrg();
    const sub = emu.state.subscriptions.get(subscriptionId)!;
    const start = clock.now();
    let answered = 0;
    await runJobsUntil(relay, clock, start + 3 * DAY, async (now) => {
      await emu.settle();
      answered += await handleLifecycleItems();
      // Graph pauses deliveries once the token behind the subscription has been expired for a while.
      assert.ok(sub.authorizedUntil > now, `authorization lapsed at ${new Date(now).toISOString()}`);
    });
    assert.ok(answered >= 36, `${answered} reauthorization requests answered`);
    const patches = recorder.callsTo("PATCH", new RegExp(`/subscriptions/${subscriptionId}$`)).length;
    assert.ok(patches >= answered && patches <= answered + 2, `${patches} PATCHes for ${answered} requests`);
    assert.deepEqual(violationsOf(subscriptionId), []);
    await emergencyCall(tenant);
    const items = await relay.relay.intake.inbox.list({ subscriptionId, kind: "change" });
    assert.equal(items.length, 1, "the call after three days arrived");
  });

  test("reauthorizationRequired on demand, delivered twice, is answered with exactly one PATCH", async () => {
    const { orgId, subscriptionId } = await connectedOrg();
    const sub = emu.state.subscriptions.get(subscriptionId)!;
    const patch = new RegExp(`/subscriptions/${subscriptionId}$`);
    const patchesBefore = recorder.callsTo("PATCH", patch).length;
    await control(emu, "POST", "/_emulator/faults", {
      target: "delivery",
      kind: "duplicate",
      match: "/api/graph/lifecycle",
    });
    clock.advance(5 * MINUTE);
    await lifecycleEvent(subscriptionId, "reauthorizationRequired");

    const stored = await relay.relay.intake.inbox.list({ subscriptionId, kind: "lifecycle" });
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.item.lifecycleEvent, "reauthorizationRequired");
    assert.equal(stored[0]!.item.clientState, undefined);
    assert.equal(await handleLifecycleItems(), 1);

    assert.equal(recorder.callsTo("PATCH", patch).length, patchesBefore + 1);
    assert.equal(recorder.callsTo("POST", /\/reauthorize$/).length, 0);
    assert.equal(sub.lastPatchAt, clock.now());
    assert.equal(sub.lastReauthorizeAt, null);
    assert.ok(Math.abs(sub.expirationDateTime - (clock.now() + 4200 * MINUTE)) <= MINUTE);
    assert.deepEqual(violationsOf(subscriptionId), []);
    const s = await status(orgId);
    assert.equal(s.subscriptions[0].lastRenewedAt, new Date(clock.now()).toISOString());
    assert.equal(s.subscriptions[0].expiresAt, new Date(sub.expirationDateTime).toISOString());
  });

  test("subscriptionRemoved: a new subscription replaces it and a resync is requested", async () => {
    const { tenant, orgId, subscriptionId } = await connectedOrg();
    await lifecycleEvent(subscriptionId, "subscriptionRemoved");
    assert.equal(await handleLifecycleItems(), 1);

    const active = activeSubscriptionsOf(tenant.tenantId);
    assert.equal(active.length, 1);
    const replacement = active[0]!;
    assert.notEqual(replacement.id, subscriptionId);
    assert.equal(replacement.lifecycleNotificationUrl, `${relay.url}/api/graph/lifecycle`);
    const s = await status(orgId);
    assert.deepEqual(
      s.subscriptions.map((x: any) => [x.id, x.state]),
      [[replacement.id, "active"]],
    );
    const all = await events(orgId);
    assert.deepEqual(
      all.map((e) => e.kind),
      [
        "connected",
        "subscription_created",
        "subscription_removed",
        "subscription_created",
        "resync_requested",
      ],
    );
    assert.equal(all.at(-1)!.details.reason, "subscriptionRemoved");
    // The old id is no longer accepted; the new one delivers.
    assert.equal(await relay.relay.intake.subscriptions.find(subscriptionId), undefined);
    await emergencyCall(tenant);
    assert.equal(
      (await relay.relay.intake.inbox.list({ subscriptionId: replacement.id, kind: "change" })).length,
      1,
    );
  });

  test("missed asks for a resync and changes nothing else", async () => {
    const { tenant, orgId, subscriptionId } = await connectedOrg();
    await lifecycleEvent(subscriptionId, "missed");
    assert.equal(await handleLifecycleItems(), 1);
    const all = await events(orgId);
    assert.equal(all.at(-1)!.kind, "resync_requested");
    assert.equal(all.at(-1)!.details.reason, "missed");
    assert.deepEqual(
      activeSubscriptionsOf(tenant.tenantId).map((s) => s.id),
      [subscriptionId],
    );
  });

  test("renewals that keep failing are retried with backoff and announced at 6 h and 1 h left", async () => {
    const { orgId, subscriptionId } = await connectedOrg();
    const sub = emu.state.subscriptions.get(subscriptionId)!;
    await control(emu, "POST", "/_emulator/faults", {
      target: "graph",
      kind: "http",
      status: 500,
      match: `/v1.0/subscriptions/${subscriptionId}`,
      times: 1000,
    });
    const expiresAt = sub.expirationDateTime;
    await runJobsUntil(relay, clock, expiresAt - 30 * MINUTE);
    const failing = await events(orgId);
    assert.deepEqual(
      failing.map((e) => [e.kind, e.severity]),
      [
        ["connected", "info"],
        ["subscription_created", "info"],
        ["subscription_renewal_failed", "warning"],
        ["subscription_expiring", "error"],
        ["subscription_expiring", "critical"],
      ],
    );
    const s = await status(orgId);
    assert.equal(s.subscriptions[0].state, "failing");
    assert.match(s.subscriptions[0].lastError, /renewal: PATCH .* 500/);
    const attempts = recorder.callsTo("PATCH", new RegExp(`/subscriptions/${subscriptionId}$`)).length;
    // The first reauthorizationRequired (answered by the worker) already fails, so retries run from then on:
    // at most hourly over the ~69 h left, denser in the last hours. Bounded, never a tight loop.
    const hours = (expiresAt - 30 * MINUTE - sub.createdAt) / HOUR;
    assert.ok(
      attempts >= 20 && attempts <= hours + 30,
      `${attempts} attempts in ${hours.toFixed(1)} h: bounded`,
    );

    await control(emu, "DELETE", "/_emulator/faults");
    await runJobsUntil(relay, clock, clock.now() + 61 * MINUTE);
    assert.equal((await status(orgId)).subscriptions[0].state, "active");
    assert.equal((await events(orgId)).at(-1)!.kind, "subscription_recovered");
    assert.ok(!sub.removed && sub.expirationDateTime > clock.now() + 60 * HOUR);
  });

  test("a 401 from Graph makes the token keeper refresh at once, raises no subscription alarm, and the retry renews", async () => {
    const { orgId, clientId, subscriptionId } = await connectedOrg();
    const tokens = () => emu.state.accessTokens.filter((t) => t.clientId === clientId).length;
    const tokensBefore = tokens();
    await control(emu, "POST", "/_emulator/faults", {
      target: "graph",
      kind: "http",
      status: 401,
      match: `/v1.0/subscriptions/${subscriptionId}`,
    });
    await lifecycleEvent(subscriptionId, "reauthorizationRequired");
    await handleLifecycleItems();
    assert.equal(tokens(), tokensBefore + 1, "refreshed right after the 401");
    let s = await status(orgId);
    assert.equal(s.connection.state, "connected");
    assert.equal(s.subscriptions[0].state, "failing");
    assert.match(s.subscriptions[0].lastError, /401/);
    assert.deepEqual(await kinds(orgId), ["connected", "subscription_created"]);
    const job = (await relay.relay.listJobs()).find((j) => j.dedupeKey === `subscription.renew:${orgId}`);
    assert.ok(job && job.runAt <= clock.now() + HOUR, "retried within the hour");
    await runJobsUntil(relay, clock, job.runAt);
    s = await status(orgId);
    assert.equal(s.subscriptions[0].state, "active");
    assert.equal((await events(orgId)).at(-1)!.kind, "subscription_recovered");
  });

  test("a revoked token stops renewals without extra alarms; the reconnect renews the same subscription", async () => {
    const { tenant, orgId, subscriptionId } = await connectedOrg();
    const sub = emu.state.subscriptions.get(subscriptionId)!;
    await control(
      emu,
      "POST",
      `/_emulator/tenants/${tenant.tenantId}/users/${tenant.serviceUser.id}/revoke-sessions`,
    );
    await runJobsUntil(relay, clock, clock.now() + 2 * DAY);
    let s = await status(orgId);
    assert.equal(s.connection.state, "needs_reauth");
    assert.equal(s.subscriptions[0].state, "failing");
    assert.match(s.subscriptions[0].lastError, /connect again/);
    assert.deepEqual(await kinds(orgId), ["connected", "subscription_created", "reauth_required"]);

    assert.equal((await connectOrg(emu, relay, orgId)).status, 200);
    await relay.relay.scheduler.runDue();
    s = await status(orgId);
    assert.equal(s.connection.state, "connected");
    assert.equal(s.subscriptions[0].id, subscriptionId);
    assert.equal(s.subscriptions[0].state, "active");
    assert.ok(sub.expirationDateTime >= clock.now() + 4199 * MINUTE);
    assert.equal((await events(orgId)).at(-1)!.kind, "subscription_recovered");
    assert.deepEqual(violationsOf(subscriptionId), []);
  });

  test("a certificate near its end is replaced at the next PATCH; the old key still decrypts", async () => {
    const { tenant, orgId, subscriptionId } = await connectedOrg();
    const sub = emu.state.subscriptions.get(subscriptionId)!;
    const oldId = sub.encryptionCertificateId!;
    const oldCertificate = sub.encryptionCertificate!;
    // Age the certificate: 20 days left, inside the 30-day rotation window.
    const sqlite = new Database(path.join(relay.dataDir, "relay.db"));
    sqlite
      .prepare("update encryption_certificates set not_after = ? where id = ?")
      .run(clock.now() + 20 * DAY, oldId);
    sqlite.close();

    await lifecycleEvent(subscriptionId, "reauthorizationRequired");
    await handleLifecycleItems();
    assert.notEqual(sub.encryptionCertificateId, oldId);
    assert.match(sub.encryptionCertificateId!, new RegExp(`^relay-${orgId}-`));
    assert.notEqual(sub.encryptionCertificate, oldCertificate);
    const newKey = await relay.relay.intake.keyring.resolve(sub.encryptionCertificateId!);
    assert.equal(newKey?.thumbprint, certificateThumbprint(sub.encryptionCertificate!));
    const oldKey = await relay.relay.intake.keyring.resolve(oldId);
    assert.equal(
      oldKey?.thumbprint,
      certificateThumbprint(oldCertificate),
      "the retired key stays resolvable",
    );

    await emergencyCall(tenant);
    const [item] = await relay.relay.intake.inbox.list({ subscriptionId, kind: "change" });
    assert.equal((item!.item.encryptedContent as any).encryptionCertificateId, sub.encryptionCertificateId);
    assert.match((await decrypt(item!)).body.content, /has placed an Emergency Call/);
    assert.deepEqual(violationsOf(subscriptionId), []);
  });
});

describe("409 and start-up reconciliation", () => {
  test("a subscription created by a POST whose answer was lost is adopted: it carries our clientState", async () => {
    const tenant = await seedTenant(emu);
    const org = await createOrgWithApp(emu, relay, tenant);
    recorder.loseResponse({ method: "POST", path: /^\/v1\.0\/subscriptions$/ });
    assert.equal((await connectOrg(emu, relay, org.orgId)).status, 200);
    await relay.relay.scheduler.runDue();

    const [created] = activeSubscriptionsOf(tenant.tenantId);
    assert.ok(created, "Graph created it");
    let s = await status(org.orgId);
    assert.equal(s.subscriptions.length, 1);
    assert.equal(s.subscriptions[0].id, null);
    assert.equal(s.subscriptions[0].state, "pending");
    assert.match(s.subscriptions[0].lastError, /502/);

    const job = (await relay.relay.listJobs()).find(
      (j) => j.dedupeKey === `subscription.ensure:${org.orgId}`,
    );
    assert.ok(job, "the ensure job is retried");
    const callsBefore = recorder.calls.length;
    await runJobsUntil(relay, clock, job.runAt);
    assert.deepEqual(
      activeSubscriptionsOf(tenant.tenantId).map((x) => x.id),
      [created.id],
      "adopted, not duplicated",
    );
    s = await status(org.orgId);
    assert.deepEqual(
      s.subscriptions.map((x: any) => [x.id, x.state]),
      [[created.id, "active"]],
    );
    const calls = recorder.calls.slice(callsBefore).filter((c) => c.path.startsWith("/v1.0/subscriptions"));
    assert.deepEqual(
      calls.map((c) => [c.method, c.status]),
      [
        ["POST", 409],
        ["GET", 200],
        ["PATCH", 200],
      ],
    );
    const created_ = (await events(org.orgId)).filter((e) => e.kind === "subscription_created");
    assert.equal(created_.length, 1);
    assert.equal(created_[0]!.details.adopted, true);
  });

  test("a conflicting subscription that is not provably ours is deleted and replaced", async () => {
    const tenant = await seedTenant(emu);
    const org = await createOrgWithApp(emu, relay, tenant);
    // Left behind by an earlier installation with the same app registration and service user.
    const tokens = await signIn(emu, {
      tenantId: tenant.tenantId,
      clientId: org.clientId,
      clientSecret: org.clientSecret,
      redirectUri: org.redirectUri,
      serviceUser: tenant.serviceUser,
      caller: tenant.otherUser,
    });
    const foreign = await graph(emu, tokens.access_token, "POST", "/subscriptions", {
      changeType: "created,updated",
      notificationUrl: `${relay.url}/api/graph/notifications`,
      lifecycleNotificationUrl: `${relay.url}/api/graph/lifecycle`,
      resource: RESOURCE,
      expirationDateTime: new Date(clock.now() + 3000 * MINUTE).toISOString(),
      clientState: "left-behind-by-an-earlier-installation",
    });
    assert.equal(foreign.status, 201, foreign.text);
    const foreignId = foreign.json().id;

    const callsBefore = recorder.calls.length;
    assert.equal((await connectOrg(emu, relay, org.orgId)).status, 200);
    await relay.relay.scheduler.runDue();
    const active = activeSubscriptionsOf(tenant.tenantId);
    assert.equal(active.length, 1);
    assert.notEqual(active[0]!.id, foreignId);
    assert.notEqual(active[0]!.clientState, "left-behind-by-an-earlier-installation");
    assert.equal(emu.state.subscriptions.get(foreignId)!.removed, true);
    const calls = recorder.calls.slice(callsBefore).filter((c) => c.path.startsWith("/v1.0/subscriptions"));
    assert.deepEqual(
      calls.map((c) => [c.method, c.path.replace(/[0-9a-f-]{36}/, "{id}"), c.status]),
      [
        ["POST", "/v1.0/subscriptions", 409],
        ["GET", "/v1.0/subscriptions/{id}", 200],
        ["DELETE", "/v1.0/subscriptions/{id}", 204],
        ["POST", "/v1.0/subscriptions", 201],
      ],
    );
    assert.equal((await status(org.orgId)).subscriptions[0].id, active[0]!.id);
  });

  test("a throttled create waits for Retry-After, says why meanwhile, then succeeds", async () => {
    const tenant = await seedTenant(emu);
    const org = await createOrgWithApp(emu, relay, tenant);
    await control(emu, "POST", "/_emulator/faults", {
      target: "graph",
      kind: "http",
      status: 429,
      retryAfter: 600,
      match: "/v1.0/subscriptions",
    });
    assert.equal(
      (await connectOrg(emu, relay, org.orgId)).status,
      200,
      "a Graph failure never fails the connect",
    );
    await relay.relay.scheduler.runDue();
    const s = await status(org.orgId);
    assert.equal(s.connection.state, "connected");
    assert.equal(s.subscriptions[0].state, "pending");
    assert.match(s.subscriptions[0].lastError, /429/);
    const failed = (await events(org.orgId)).at(-1)!;
    assert.equal(failed.kind, "subscription_renewal_failed");
    assert.equal(failed.severity, "warning");
    assert.equal(failed.details.status, 429);
    const job = (await relay.relay.listJobs()).find(
      (j) => j.dedupeKey === `subscription.ensure:${org.orgId}`,
    );
    assert.ok(job && job.runAt >= clock.now() + 600_000, "not before Retry-After");

    clock.set(job.runAt);
    await relay.relay.scheduler.runDue();
    assert.equal((await status(org.orgId)).subscriptions[0].state, "active");
    assert.equal(activeSubscriptionsOf(tenant.tenantId).length, 1);
  });

  test("at start-up the stored subscription is checked, not recreated; one Graph lost is recreated and resynced", async () => {
    const { tenant, orgId, subscriptionId } = await connectedOrg();
    const posts = () => recorder.callsTo("POST", /^\/v1\.0\/subscriptions$/).length;
    const gets = () =>
      recorder.callsTo("GET", new RegExp(`^/v1\\.0/subscriptions/${subscriptionId}$`)).length;
    const postsBefore = posts();
    const getsBefore = gets();

    relay = await relay.restart();
    await relay.relay.scheduler.runDue();
    assert.equal(posts(), postsBefore, "no blind create on boot");
    assert.equal(gets(), getsBefore + 1);
    assert.deepEqual(
      (await status(orgId)).subscriptions.map((x: any) => [x.id, x.state]),
      [[subscriptionId, "active"]],
    );

    // Graph dropped it while the relay was down.
    emu.state.subscriptions.get(subscriptionId)!.removed = true;
    relay = await relay.restart();
    await relay.relay.scheduler.runDue();
    const active = activeSubscriptionsOf(tenant.tenantId);
    assert.equal(active.length, 1);
    assert.notEqual(active[0]!.id, subscriptionId);
    assert.deepEqual(
      (await status(orgId)).subscriptions.map((x: any) => x.id),
      [active[0]!.id],
    );
    const all = await events(orgId);
    assert.deepEqual(
      all.slice(-3).map((e) => e.kind),
      ["subscription_removed", "subscription_created", "resync_requested"],
    );
  });
});
