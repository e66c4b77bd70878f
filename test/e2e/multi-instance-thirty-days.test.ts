// Issue 7: three relay instances (in this process, so they share the emulator's fake clock) on one PostgreSQL
// database behind a round-robin proxy that is everyone's RELAY_PUBLIC_URL. An OAuth connect started on one instance
// completes on another; then 30 simulated days, every instance running due jobs at each step: one renewal per
// subscription per window, token refreshes of one org never concurrent, a 409 adopted once instead of a loop, and
// the subscription never lapses.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { startGraphRecorder, type GraphRecorder } from "../helpers/graph-recorder.ts";
import { httpRequest } from "../helpers/http-request.ts";
import { followSignIn, seedTenant, startTestRelay, type TestRelay } from "../helpers/relay-setup.ts";
import { startRoundRobinProxy, type RoundRobinProxy } from "../helpers/round-robin-proxy.ts";
import { probeTokenRequests, type TokenRequestProbe } from "../helpers/token-request-probe.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const clock = new FakeClock();
const adminToken = randomBytes(32).toString("base64url");
let db: TestDatabase;
let emu: Emulator;
let recorder: GraphRecorder;
let tokens: TokenRequestProbe;
let proxy: RoundRobinProxy;
const relays: TestRelay[] = [];
/** Jobs each instance ran: all three take part. */
const jobsRun = [0, 0, 0];

before(async () => {
  db = await openTestDatabase("postgres", { migrate: false });
  emu = await startEmulator({ clock, allowHttpWebhooks: true });
  recorder = await startGraphRecorder(emu, { now: () => clock.now() });
  tokens = probeTokenRequests(emu);
  proxy = await startRoundRobinProxy();
  const shared = {
    RELAY_DATABASE_URL: db.location,
    RELAY_PUBLIC_URL: proxy.url,
    RELAY_ADMIN_TOKEN: adminToken,
    RELAY_ENCRYPTION_KEY: randomBytes(32).toString("hex"),
    RELAY_GRAPH_BASE_URL: recorder.url,
    // Polling hourly instead of every 5 minutes: the same safety net, a twelfth of the work over a month.
    RELAY_POLL_INTERVAL_SECONDS: "3600",
    RELAY_LOG_LEVEL: "warn",
  };
  // Started together on an empty database, as a deployment's instances would be.
  relays.push(...(await Promise.all([0, 1, 2].map(() => startTestRelay(emu, clock, shared)))));
  proxy.upstreams = relays.map((r) => r.url);
});
after(async () => {
  for (const relay of relays) await relay.close();
  tokens?.close();
  await proxy?.close();
  await recorder?.close();
  await emu?.close();
  await db?.close();
});

async function api(method: string, p: string, body?: object) {
  const res = await httpRequest(`${proxy.url}${p}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}` },
    ...(body ? { body } : {}),
  });
  if (res.status >= 400) throw new Error(`${method} ${p} -> ${res.status} ${res.text}`);
  return res.text ? res.json() : undefined;
}

async function createOrg(name: string) {
  const tenant = await seedTenant(emu, name);
  const org = await api("POST", "/api/orgs", {
    name,
    expectedServiceUserUpn: tenant.serviceUser.userPrincipalName,
  });
  const app = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/apps`, {
    displayName: "Teams Emergency Relay",
    redirectUris: [org.redirectUri],
  });
  await api("PATCH", `/api/orgs/${org.id}`, {
    tenantId: tenant.tenantId,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
  });
  return { tenant, orgId: org.id as string };
}

/** Every instance runs its due jobs at once, as their timers would; the shared clock moves from job to job. */
async function runJobsUntil(until: number, onStep?: (now: number) => Promise<void>): Promise<void> {
  for (let step = 0; ; step++) {
    assert.ok(step < 20_000, "the job loop is bounded");
    const next = await relays[0]!.relay.nextJobAt();
    if (next === undefined || next > until) break;
    if (next > clock.now()) clock.set(next);
    if (onStep) await onStep(clock.now());
    const ran = await Promise.all(relays.map((r) => r.relay.scheduler.runDue()));
    ran.forEach((n, i) => (jobsRun[i]! += n));
    // A due job nobody could claim would be held by a lease that outlived its run.
    if (ran.every((n) => n === 0))
      assert.ok((await relays[0]!.relay.nextJobAt())! > clock.now(), "a due job is stuck");
  }
  if (clock.now() < until) clock.set(until);
}

async function processInboxes(): Promise<void> {
  await emu.settle();
  await Promise.all(relays.map((r) => r.relay.intake.processInbox()));
}

test("an OAuth connect started on one instance completes on another", async () => {
  const { tenant, orgId } = await createOrg("Fabrikam");
  const connect = await httpRequest(`${proxy.url}/api/org/${orgId}/ms-teams/connect`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  assert.equal(connect.status, 302, connect.text);
  const { page } = await followSignIn(emu, new URL(String(connect.headers.location)));
  assert.equal(page.status, 200, page.text);
  const [started] = proxy.servedBy("GET", /\/ms-teams\/connect/);
  const [completed] = proxy.servedBy("GET", /\/ms-teams\/callback/);
  assert.ok(started && completed, "both went through the proxy");
  assert.notEqual(completed, started, "the callback reached another instance than the one that started it");
  // The PKCE verifier and state were stored by the first instance and redeemed by the second: connected.
  const status = await api("GET", `/api/org/${orgId}/ms-teams/status`);
  assert.equal(status.connection.state, "connected");
  assert.equal(status.connection.user.userPrincipalName, tenant.serviceUser.userPrincipalName);
  await api("DELETE", `/api/orgs/${orgId}`);
});

test("30 days with three instances: one renewal per window, no concurrent refreshes, a 409 adopted once, never lapsed", async () => {
  const { tenant, orgId } = await createOrg("Contoso");
  const connect = await httpRequest(`${proxy.url}/api/org/${orgId}/ms-teams/connect`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  assert.equal((await followSignIn(emu, new URL(String(connect.headers.location)))).page.status, 200);
  await Promise.all(relays.map((r) => r.relay.scheduler.runDue()));
  const live = () =>
    [...emu.state.subscriptions.values()].filter((s) => s.tenantId === tenant.tenantId && !s.removed);
  assert.equal(live().length, 1, "subscribed once");
  const { chatId } = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/chats`, {
    memberIds: [tenant.serviceUser.id, tenant.otherUser.id],
  });

  let sent = 0;
  const sendMessage = async (content: string) => {
    await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/chats/${chatId}/messages`, {
      fromUserId: tenant.otherUser.id,
      content,
    });
    sent += 1;
  };
  let leastLeft = Infinity;
  const checkNeverLapsed = async (now: number) => {
    await processInboxes();
    const current = live();
    assert.equal(current.length, 1, `exactly one live subscription at ${new Date(now).toISOString()}`);
    const left = current[0]!.expirationDateTime - now;
    assert.ok(left > 0, `lapsed at ${new Date(now).toISOString()}`);
    leastLeft = Math.min(leastLeft, left);
  };

  const start = clock.now();
  for (let day = 1; day <= 30; day++) {
    await runJobsUntil(start + day * DAY - 12 * HOUR, checkNeverLapsed);
    await sendMessage(`Morning update, day ${day}`);
    if (day === 3) {
      // Three instances asked to refresh the same org at the same moment, Entra answering slowly: one at a time.
      tokens.delayMs = 300;
      const before = tokens.requests.length;
      await Promise.all(
        relays.map((r) => r.api("POST", `/api/org/${orgId}/ms-teams/refresh`, undefined, adminToken)),
      );
      tokens.delayMs = 0;
      assert.equal(tokens.requests.length - before, 3, "each manual refresh reached Entra");
    }
    if (day === 10) {
      // Graph removes the subscription, and the answer to the first re-create is lost on the way back: the
      // retry (on whichever instance) meets 409 and adopts the subscription that POST made.
      recorder.loseResponse({ method: "POST", path: /^\/v1\.0\/subscriptions$/ });
      const [current] = live();
      await control(emu, "POST", `/_emulator/subscriptions/${current!.id}/lifecycle`, {
        event: "subscriptionRemoved",
      });
      await processInboxes();
      await runJobsUntil(clock.now() + HOUR, checkNeverLapsed);
      assert.notEqual(live()[0]!.id, current!.id, "replaced by a new subscription");
    }
    await runJobsUntil(start + day * DAY, checkNeverLapsed);
  }
  await runJobsUntil(clock.now() + 2 * HOUR, checkNeverLapsed);

  const final = await api("GET", `/api/org/${orgId}/ms-teams/status`);
  assert.equal(final.connection.state, "connected");
  assert.equal(final.subscriptions.length, 1);
  assert.equal(final.subscriptions[0].state, "active");
  const received = final.messagesReceived as { notification: number; polling: number };
  assert.equal(received.notification + received.polling, sent, "every message handed on exactly once");

  // One renewal per window. The emulator, like Graph, asks for reauthorization (`reauthorizationRequired`) shortly
  // before the token behind the subscription expires; each ask must be answered with exactly one PATCH (and the
  // adopted subscription gets one at adoption). Two instances answering one ask would PATCH twice at once.
  const asks = emu.state.deliveries.filter(
    (d) =>
      d.kind === "lifecycle" &&
      d.item.lifecycleEvent === "reauthorizationRequired" &&
      d.status === "delivered",
  );
  const patches = recorder.callsTo("PATCH", /^\/v1\.0\/subscriptions\//);
  const bySubscription = new Map<string, typeof patches>();
  for (const call of patches) bySubscription.set(call.path, [...(bySubscription.get(call.path) ?? []), call]);
  for (const [path, calls] of bySubscription) {
    for (let i = 1; i < calls.length; i++) {
      const gap = calls[i]!.at - calls[i - 1]!.at;
      assert.ok(gap >= 10 * 60_000, `${path} renewed twice within ${(gap / 60_000).toFixed(1)} min`);
    }
  }
  assert.ok(asks.length > 30 * 20, `${asks.length} reauthorization requests over the month`);
  assert.equal(patches.length, asks.length + 1, "one PATCH per reauthorization request, plus the adoption");
  // 409 adopted, not looped: the initial create, the one whose answer was lost, and the retry that met 409.
  const posts = recorder.callsTo("POST", /^\/v1\.0\/subscriptions$/);
  assert.deepEqual(
    posts.map((c) => c.upstreamStatus),
    [201, 201, 409],
    "three creates: the first, the lost one, the adopted conflict",
  );
  const events: { kind: string; details: any }[] = (await api("GET", `/api/org/${orgId}/events?limit=500`))
    .events;
  assert.ok(
    events.some((e) => e.kind === "subscription_created" && e.details?.adopted === true),
    "the conflicting subscription was adopted",
  );
  assert.ok(leastLeft >= 20 * HOUR, `${(leastLeft / HOUR).toFixed(1)} h left at the tightest moment`);

  // Token requests of one org never overlapped, across instances, all month (and during the forced contention).
  const mine = tokens.requests.filter((r) => r.tenant === tenant.tenantId);
  assert.ok(mine.length > 30 * 20, `${mine.length} token requests over the month`);
  assert.deepEqual(tokens.overlaps(), [], "two token requests of one org were in flight at once");
  assert.ok(
    jobsRun.every((n) => n > 0),
    `every instance ran jobs: ${jobsRun.join(", ")}`,
  );
  assert.deepEqual(emu.state.protocolViolations, []);
});
