import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
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
  type TestRelay,
} from "../helpers/relay-setup.ts";

const MINUTE = 60_000;
const clock = new FakeClock();
let emu: Emulator;
let relay: TestRelay;
let recorder: GraphRecorder;

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

async function metric(name: string, labels: string): Promise<number> {
  const text = (await httpRequest(`${relay.url}/metrics`)).text;
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

function liveSubscriptions(tenantId: string) {
  return [...emu.state.subscriptions.values()].filter((s) => s.tenantId === tenantId && !s.removed);
}

const MESSAGE_FETCH = /\/chats\/[^/]+\/messages\/[^/]+$/;

// Counters and the metric are cumulative over the file's tests, which share one relay.
const handedOn = { notification: 0, polling: 0 };

for (const mode of ["rich", "basic"] as const) {
  test(`${mode} notifications: connect -> subscription -> ordinary traffic and emergency calls, each message handed on exactly once despite duplicates, reordering, delays, 429s and a drop only polling finds`, async () => {
    await runPipeline(mode);
  });
}

async function runPipeline(mode: "rich" | "basic") {
  const tenant = await seedTenant(emu);
  const org = await createOrgWithApp(emu, relay, tenant);
  if (mode === "basic")
    assert.equal(
      (await relay.api("PATCH", `/api/orgs/${org.orgId}`, { notificationMode: "basic" })).status,
      200,
    );
  assert.equal((await connectOrg(emu, relay, org.orgId)).status, 200);
  await relay.relay.scheduler.runDue();

  // The subscription exists, both URLs were validated by the emulator's handshake, and it is rich or basic.
  const [sub] = liveSubscriptions(tenant.tenantId);
  assert.ok(sub, "subscription created");
  assert.equal(sub.resource, "/me/chats/getAllMessages");
  assert.equal(sub.notificationUrl, `${relay.url}/api/graph/notifications`);
  assert.equal(sub.lifecycleNotificationUrl, `${relay.url}/api/graph/lifecycle`);
  assert.equal(sub.includeResourceData, mode === "rich");
  const fetchesBefore = recorder.callsTo("GET", MESSAGE_FETCH).length;
  const status = (await relay.api("GET", `/api/org/${org.orgId}/ms-teams/status`)).json();
  assert.equal(status.subscriptions[0].id, sub.id);

  const caller = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/users`, {
    displayName: "Pat Caller",
    userPrincipalName: `pat.caller@${tenant.domain}`,
  });
  const { chatId } = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/chats`, {
    memberIds: [tenant.serviceUser.id, tenant.otherUser.id],
  });
  const fault = (body: object) => control(emu, "POST", "/_emulator/faults", body);
  await fault({ target: "delivery", kind: "duplicate", times: 3 });
  await fault({ target: "delivery", kind: "reorder" });
  await fault({ target: "delivery", kind: "delay", delaySeconds: 90 });
  await fault({ target: "delivery", kind: "drop" });
  // Polling meets Graph throttling first and must still finish.
  await fault({ target: "graph", kind: "http", status: 429, retryAfter: 1, match: "/me/chats" });
  // In basic mode the worker fetches each message, and meets throttling there too.
  if (mode === "basic")
    await fault({ target: "graph", kind: "http", status: 429, retryAfter: 1, match: "/messages/" });

  const sent: string[] = [];
  const step = async () => {
    // Messages a little over a second apart: basic mode fetches at most one per second per chat (Graph's limit).
    clock.advance(1_100);
    await emu.settle();
    await relay.relay.intake.processInbox();
  };
  for (let i = 0; i < 6; i++) {
    const { messageId } = await control(
      emu,
      "POST",
      `/_emulator/tenants/${tenant.tenantId}/chats/${chatId}/messages`,
      {
        fromUserId: tenant.otherUser.id,
        content: `Lunch at ${i}?`,
      },
    );
    sent.push(messageId);
    await step();
  }
  for (const dialString of ["933", "911", "112"]) {
    const call = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/emergency-calls`, {
      callerId: caller.id,
      dialString,
      notify: [tenant.serviceUser.id],
      location: { kind: "dynamic", place: "Building 4, Floor 2", address: "1 Main Street, Springfield" },
    });
    sent.push(call.messages[0].messageId);
    await step();
  }
  // The delayed delivery arrives 90 s later.
  clock.advance(91_000);
  await step();

  const deliveries = emu.state.deliveries.filter((d) => d.subscriptionId === sub.id && d.kind === "change");
  assert.equal(deliveries.filter((d) => d.duplicate).length, 3, "duplicates were delivered");
  assert.equal(deliveries.filter((d) => d.status === "dropped").length, 1, "one delivery was dropped");
  handedOn.notification += sent.length - 1;
  const afterNotifications = (await relay.api("GET", `/api/org/${org.orgId}/ms-teams/status`)).json()
    .messagesReceived;
  assert.deepEqual(afterNotifications, { notification: sent.length - 1, polling: 0 });
  const fetches = recorder.callsTo("GET", MESSAGE_FETCH).slice(fetchesBefore);
  if (mode === "rich") assert.equal(fetches.length, 0, "rich notifications need no Graph read");
  else {
    // One fetch per delivered message, plus the one answered 429 and retried.
    assert.equal(fetches.filter((c) => c.status === 200).length, sent.length - 1);
    assert.equal(fetches.filter((c) => c.status === 429).length, 1);
  }

  // Polling every 5 minutes finds the dropped one, once, and says there was a webhook delivery gap.
  await runJobsUntil(relay, clock, clock.now() + 11 * MINUTE);
  await relay.relay.intake.processInbox();
  handedOn.polling += 1;
  const final = (await relay.api("GET", `/api/org/${org.orgId}/ms-teams/status`)).json();
  assert.deepEqual(final.messagesReceived, { notification: sent.length - 1, polling: 1 });
  assert.equal(await metric("relay_messages_received_total", 'source="notification"'), handedOn.notification);
  assert.equal(await metric("relay_messages_received_total", 'source="polling"'), handedOn.polling);
  const events = (await relay.api("GET", `/api/org/${org.orgId}/events`)).json().events;
  const gaps = events.filter((e: { kind: string }) => e.kind === "webhook_delivery_gap");
  assert.equal(gaps.length, 1);
  assert.equal(gaps[0].details.count ?? gaps[0].details.gaps, 1);
  // This org has no alert policy, so each real call (911, 112; not the 933 test call) is reported as reaching
  // nobody. Nothing else went wrong on the way.
  assert.equal(events.filter((e: { kind: string }) => e.kind === "emergency_unrouted").length, 2);
  assert.deepEqual(
    events
      .filter(
        (e: { severity: string; kind: string }) =>
          e.severity !== "info" && e.kind !== "webhook_delivery_gap" && e.kind !== "emergency_unrouted",
      )
      .map((e: { kind: string }) => e.kind),
    [],
  );
  await control(emu, "DELETE", "/_emulator/faults");
}

test("switching an org from rich to basic replaces its subscription, and messages keep arriving", async () => {
  const tenant = await seedTenant(emu);
  const org = await createOrgWithApp(emu, relay, tenant);
  assert.equal((await connectOrg(emu, relay, org.orgId)).status, 200);
  await relay.relay.scheduler.runDue();
  const [rich] = liveSubscriptions(tenant.tenantId);
  assert.equal(rich?.includeResourceData, true);

  const patched = await relay.api("PATCH", `/api/orgs/${org.orgId}`, { notificationMode: "basic" });
  assert.equal(patched.status, 200);
  assert.equal(patched.json().notificationMode, "basic");
  await relay.relay.scheduler.runDue();
  const live = liveSubscriptions(tenant.tenantId);
  assert.equal(live.length, 1, "exactly one live subscription");
  assert.notEqual(live[0]!.id, rich!.id);
  assert.equal(live[0]!.includeResourceData, false);
  assert.equal(emu.state.subscriptions.get(rich!.id)?.removed, true, "the rich one was deleted at Graph");
  const status = (await relay.api("GET", `/api/org/${org.orgId}/ms-teams/status`)).json();
  assert.deepEqual(
    status.subscriptions.map((s: { id: string }) => s.id),
    [live[0]!.id],
  );

  const { chatId } = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/chats`, {
    memberIds: [tenant.serviceUser.id, tenant.otherUser.id],
  });
  await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/chats/${chatId}/messages`, {
    fromUserId: tenant.otherUser.id,
    content: "still here?",
  });
  await emu.settle();
  await relay.relay.intake.processInbox();
  const after = (await relay.api("GET", `/api/org/${org.orgId}/ms-teams/status`)).json();
  assert.equal(after.messagesReceived.notification, 1);

  const bad = await relay.api("PATCH", `/api/orgs/${org.orgId}`, { notificationMode: "partial" });
  assert.equal(bad.status, 400);
  assert.match(bad.json().error.fields[0].reason, /rich.*basic/);
});
