import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
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

before(async () => {
  // The relay listens on plain http on loopback; real Graph only calls https webhooks.
  emu = await startEmulator({ clock, allowHttpWebhooks: true });
  relay = await startTestRelay(emu, clock);
});
after(async () => {
  await relay.close();
  await emu.close();
});

async function metric(name: string, labels: string): Promise<number> {
  const text = (await httpRequest(`${relay.url}/metrics`)).text;
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

test("connect -> subscription -> ordinary traffic and emergency calls, each message handed on exactly once despite duplicates, reordering, delays, 429s and a drop only polling finds", async () => {
  const tenant = await seedTenant(emu);
  const org = await createOrgWithApp(emu, relay, tenant);
  assert.equal((await connectOrg(emu, relay, org.orgId)).status, 200);
  await relay.relay.scheduler.runDue();

  // The subscription exists, both URLs were validated by the emulator's handshake, and it is rich.
  const [sub] = [...emu.state.subscriptions.values()].filter(
    (s) => s.tenantId === tenant.tenantId && !s.removed,
  );
  assert.ok(sub, "subscription created");
  assert.equal(sub.resource, "/me/chats/getAllMessages");
  assert.equal(sub.notificationUrl, `${relay.url}/api/graph/notifications`);
  assert.equal(sub.lifecycleNotificationUrl, `${relay.url}/api/graph/lifecycle`);
  assert.equal(sub.includeResourceData, true);
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

  const sent: string[] = [];
  const step = async () => {
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
  const afterNotifications = (await relay.api("GET", `/api/org/${org.orgId}/ms-teams/status`)).json()
    .messagesReceived;
  assert.deepEqual(afterNotifications, { notification: sent.length - 1, polling: 0 });

  // Polling every 5 minutes finds the dropped one, once, and says there was a webhook delivery gap.
  await runJobsUntil(relay, clock, clock.now() + 11 * MINUTE);
  await relay.relay.intake.processInbox();
  const final = (await relay.api("GET", `/api/org/${org.orgId}/ms-teams/status`)).json();
  assert.deepEqual(final.messagesReceived, { notification: sent.length - 1, polling: 1 });
  assert.equal(await metric("relay_messages_received_total", 'source="notification"'), sent.length - 1);
  assert.equal(await metric("relay_messages_received_total", 'source="polling"'), 1);
  const events = (await relay.api("GET", `/api/org/${org.orgId}/events`)).json().events;
  const gaps = events.filter((e: { kind: string }) => e.kind === "webhook_delivery_gap");
  assert.equal(gaps.length, 1);
  assert.equal(gaps[0].details.count ?? gaps[0].details.gaps, 1);
  // Nothing else went wrong on the way.
  assert.deepEqual(
    events
      .filter(
        (e: { severity: string; kind: string }) => e.severity !== "info" && e.kind !== "webhook_delivery_gap",
      )
      .map((e: { kind: string }) => e.kind),
    [],
  );
});
