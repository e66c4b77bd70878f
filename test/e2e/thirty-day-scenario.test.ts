// Issue 4's "shared fake clock run of 30 days": one relay, one emulated tenant, one clock. The subscription must
// never lapse through routine renewals, a reauthorizationRequired, a subscriptionRemoved, and a token revocation
// followed by a reconnect; every message sent over the month is handed on exactly once.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { startGraphRecorder, type GraphRecorder } from "../helpers/graph-recorder.ts";
import {
  connectOrg,
  createOrgWithApp,
  runJobsUntil,
  seedTenant,
  startTestRelay,
  type TestRelay,
} from "../helpers/relay-setup.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const clock = new FakeClock();
let emu: Emulator;
let recorder: GraphRecorder;
let relay: TestRelay;

before(async () => {
  emu = await startEmulator({ clock, allowHttpWebhooks: true });
  recorder = await startGraphRecorder(emu);
  // Polling hourly instead of every 5 minutes: the same safety net, a twelfth of the work over a simulated month.
  relay = await startTestRelay(emu, clock, {
    RELAY_GRAPH_BASE_URL: recorder.url,
    RELAY_POLL_INTERVAL_SECONDS: "3600",
  });
});
after(async () => {
  await relay.close();
  await recorder.close();
  await emu.close();
});

test("30 days on one clock: renewals, reauthorizationRequired, subscriptionRemoved, a revoked token and a reconnect; the subscription never lapses and every message arrives once", async () => {
  const tenant = await seedTenant(emu);
  const { orgId } = await createOrgWithApp(emu, relay, tenant);
  assert.equal((await connectOrg(emu, relay, orgId)).status, 200);
  await relay.relay.scheduler.runDue();
  const live = () =>
    [...emu.state.subscriptions.values()].filter((s) => s.tenantId === tenant.tenantId && !s.removed);
  const status = async () => (await relay.api("GET", `/api/org/${orgId}/ms-teams/status`)).json();
  const first = live()[0]!;
  assert.ok(first, "subscribed");
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
  const emergencyCall = async () => {
    await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/emergency-calls`, {
      callerId: tenant.otherUser.id,
      dialString: "933",
      notify: [tenant.serviceUser.id],
      location: { kind: "dynamic", place: "Building 4, Floor 2" },
    });
    sent += 1;
  };
  const lifecycle = async (event: string) => {
    const [current] = live();
    await control(emu, "POST", `/_emulator/subscriptions/${current!.id}/lifecycle`, { event });
  };

  let leastLeft = Infinity;
  const checkNeverLapsed = async (now: number) => {
    await emu.settle();
    await relay.relay.intake.processInbox();
    const current = live();
    assert.equal(current.length, 1, `exactly one live subscription at ${new Date(now).toISOString()}`);
    const left = current[0]!.expirationDateTime - now;
    assert.ok(left > 0, `lapsed at ${new Date(now).toISOString()}`);
    leastLeft = Math.min(leastLeft, left);
  };

  const start = clock.now();
  const patchesBefore = recorder.callsTo("PATCH", /\/subscriptions\//).length;
  for (let day = 1; day <= 30; day++) {
    await runJobsUntil(relay, clock, start + day * DAY - 12 * HOUR, checkNeverLapsed);
    await sendMessage(`Morning update, day ${day}`);
    if (day % 7 === 0) await emergencyCall();
    if (day === 5) {
      const patches = recorder.callsTo("PATCH", /\/subscriptions\//).length;
      await lifecycle("reauthorizationRequired");
      await checkNeverLapsed(clock.now());
      assert.equal(
        recorder.callsTo("PATCH", /\/subscriptions\//).length,
        patches + 1,
        "reauthorizationRequired answered with one PATCH",
      );
    }
    if (day === 10) {
      await lifecycle("subscriptionRemoved");
      await checkNeverLapsed(clock.now());
      assert.notEqual(live()[0]!.id, first.id, "replaced by a new subscription");
    }
    if (day === 15) {
      await control(
        emu,
        "POST",
        `/_emulator/tenants/${tenant.tenantId}/users/${tenant.serviceUser.id}/revoke-sessions`,
      );
      // The next refresh finds out; the admin reconnects three hours later.
      await runJobsUntil(relay, clock, clock.now() + 3 * HOUR, checkNeverLapsed);
      assert.equal((await status()).connection.state, "needs_reauth");
      await sendMessage("Sent while the service user needed a reconnect");
      assert.equal((await connectOrg(emu, relay, orgId)).status, 200);
      await relay.relay.scheduler.runDue();
      await checkNeverLapsed(clock.now());
      assert.equal((await status()).connection.state, "connected");
    }
    await runJobsUntil(relay, clock, start + day * DAY, checkNeverLapsed);
  }
  // Polling catches whatever notifications missed; give it one more round.
  await runJobsUntil(relay, clock, clock.now() + 2 * HOUR, checkNeverLapsed);

  const final = await status();
  assert.equal(final.connection.state, "connected");
  assert.equal(final.subscriptions.length, 1);
  assert.equal(final.subscriptions[0].state, "active");
  const received = final.messagesReceived as { notification: number; polling: number };
  assert.equal(received.notification + received.polling, sent, "every message handed on exactly once");
  // Webhooks carry nearly all of them. Polling may find one first: the one sent while the user needed a reconnect,
  // or one whose delivery the emulator retries later (in simulated time) after a slow answer on a loaded machine.
  assert.ok(
    received.notification >= Math.floor(sent * 0.9),
    `${received.notification} of ${sent} arrived as notifications`,
  );
  // Renewed whenever under 24 h were left; never closer than that to the end.
  assert.ok(leastLeft >= 20 * HOUR, `${(leastLeft / HOUR).toFixed(1)} h left at the tightest moment`);
  assert.ok(recorder.callsTo("PATCH", /\/subscriptions\//).length - patchesBefore >= 14, "renewed all month");
  assert.equal(recorder.callsTo("POST", /\/reauthorize$/).length, 0, "never /reauthorize");
  assert.deepEqual(emu.state.protocolViolations, []);
  const events: { kind: string }[] = (await relay.api("GET", `/api/org/${orgId}/events`)).json().events;
  const kinds = new Set(events.map((e) => e.kind));
  for (const kind of ["subscription_removed", "reauth_required", "subscription_recovered"])
    assert.ok(kinds.has(kind), `event ${kind}`);
  assert.ok(!kinds.has("subscription_expiring"), "never close to lapsing");
  // The daily sweep: what the intake keeps for dedupe goes after a week, and finished rows never held content.
  const inboxRows = await relay.relay.intake.inbox.list({ limit: 100_000 });
  assert.ok(inboxRows.length > 0);
  for (const row of inboxRows) {
    if (row.status === "pending") continue;
    assert.deepEqual(row.item, {}, "a finished item keeps no content");
    assert.ok(clock.now() - row.processedAt! < 8 * 24 * HOUR, "finished rows go after 7 days");
  }
});
