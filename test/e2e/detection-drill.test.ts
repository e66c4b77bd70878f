import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { detectEmergency } from "../../src/core/detect-emergency.ts";
import type { DetectionFixture } from "../../src/core/detection-fixture.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import {
  connectOrg,
  createOrgWithApp,
  seedTenant,
  startTestRelay,
  type TenantSetup,
  type TestRelay,
} from "../helpers/relay-setup.ts";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const clock = new FakeClock();
let emu: Emulator;
let relay: TestRelay;

before(async () => {
  emu = await startEmulator({ clock, allowHttpWebhooks: true });
  relay = await startTestRelay(emu, clock);
});
after(async () => {
  await relay.close();
  await emu.close();
});

/** Whether `text` is anywhere in the relay's data directory (the SQLite file, its WAL, anything else). */
async function storedAnywhere(text: string): Promise<string[]> {
  const needle = Buffer.from(text, "utf8");
  const found: string[] = [];
  for (const name of await readdir(relay.dataDir)) {
    const bytes = await readFile(path.join(relay.dataDir, name)).catch(() => undefined);
    if (bytes?.includes(needle)) found.push(name);
  }
  return found;
}

const marker = (label: string) => `${label}-${randomBytes(6).toString("hex")}`;

async function post(
  emu: Emulator,
  tenant: TenantSetup,
  chatId: string,
  fromUserId: string,
  content: string,
): Promise<string> {
  const { messageId } = await control(
    emu,
    "POST",
    `/_emulator/tenants/${tenant.tenantId}/chats/${chatId}/messages`,
    {
      fromUserId,
      content,
    },
  );
  return messageId;
}

test("a drill captures the emulated 933 call and ordinary chat, raw and as detected; after it ends ordinary chat is stored nowhere", async () => {
  const tenant = await seedTenant(emu);
  const org = await createOrgWithApp(emu, relay, tenant);
  assert.equal((await connectOrg(emu, relay, org.orgId)).status, 200);
  await relay.relay.scheduler.runDue();
  const step = async () => {
    await emu.settle();
    await relay.relay.intake.processInbox();
  };
  const caller = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/users`, {
    displayName: "Pat Caller",
    userPrincipalName: `pat.caller@${tenant.domain}`,
  });
  const { chatId } = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/chats`, {
    memberIds: [tenant.serviceUser.id, tenant.otherUser.id],
  });

  // Before any drill: handed to detection, kept nowhere.
  const beforeDrill = marker("before-drill");
  await post(emu, tenant, chatId, tenant.otherUser.id, `<p>${beforeDrill} coffee?</p>`);
  await step();

  const started = await relay.api("POST", `/api/org/${org.orgId}/drills`, { durationMinutes: 30 });
  assert.equal(started.status, 201, started.text);
  const drill = started.json();
  assert.equal(drill.state, "running");
  assert.equal(drill.endsAt, new Date(clock.now() + 30 * MINUTE).toISOString());
  const again = await relay.api("POST", `/api/org/${org.orgId}/drills`, {});
  assert.equal(again.status, 409, "one drill at a time");

  const call = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/emergency-calls`, {
    callerId: caller.id,
    dialString: "933",
    notify: [tenant.serviceUser.id],
    location: { kind: "dynamic", place: "Building 4, Floor 2", address: "1 Main Street\nSpringfield" },
  });
  const callMessageId: string = call.messages[0].messageId;
  const duringDrill = marker("during-drill");
  const ordinaryId = await post(
    emu,
    tenant,
    chatId,
    tenant.otherUser.id,
    `<p>${duringDrill} lunch at 12?</p>`,
  );
  // A notification in a wording the default rule does not know (another language), sent by the caller.
  const frenchId = await post(
    emu,
    tenant,
    call.messages[0].chatId,
    caller.id,
    "<p>Pat Caller a passé un appel d&#39;urgence</p><p>Lieu : Bâtiment 4</p>",
  );
  await step();

  const view = (await relay.api("GET", `/api/org/${org.orgId}/drills/${drill.id}`)).json();
  assert.equal(view.captureCount, 3);
  const byMessage = new Map(view.captures.map((c: { messageId: string }) => [c.messageId, c]));
  const emergency: any = byMessage.get(callMessageId);
  assert.ok(emergency, "the 933 notification was captured");
  assert.equal(emergency.detected, true);
  assert.equal(emergency.ruleId, "default");
  assert.equal(emergency.reason, null);
  assert.equal(emergency.importance, "high");
  assert.deepEqual(emergency.sender, { id: caller.id, displayName: "Pat Caller" });
  assert.match(emergency.html, /^<p>Pat Caller has placed an Emergency Call<\/p>/);
  assert.equal(
    emergency.text,
    "Pat Caller has placed an Emergency Call\n\nDialed: 933\n\nLocation: Building 4, Floor 2\n1 Main Street\nSpringfield",
  );
  assert.deepEqual(emergency.emergency, {
    chatId: call.messages[0].chatId,
    messageId: callMessageId,
    messageTime: emergency.emergency.messageTime,
    webUrl: null,
    caller: { id: caller.id, displayName: "Pat Caller", userPrincipalName: null },
    dialString: "933",
    isTest: true,
    location: {
      raw: "Location: Building 4, Floor 2\n1 Main Street\nSpringfield",
      place: "Building 4, Floor 2",
      civicAddress: "1 Main Street, Springfield",
      coordinates: null,
      quality: "known",
    },
  });
  assert.equal(typeof emergency.emergency.messageTime, "number");

  const ordinary: any = byMessage.get(ordinaryId);
  assert.equal(ordinary.detected, false);
  assert.equal(ordinary.ruleId, null);
  assert.equal(ordinary.emergency, null);
  assert.match(ordinary.reason, /does not contain "has placed an Emergency Call"/);
  assert.equal(ordinary.html, `<p>${duringDrill} lunch at 12?</p>`);
  const french: any = byMessage.get(frenchId);
  assert.equal(french.detected, false);

  // The relay logged the call by ids, and never any message content.
  const detectedLog = relay.logs.find((l) => l.includes("emergency call detected"));
  assert.ok(detectedLog, "the detection is logged");
  assert.equal(JSON.parse(detectedLog).level, 40, "at warn");
  assert.match(detectedLog, new RegExp(callMessageId));
  for (const line of relay.logs) {
    assert.doesNotMatch(
      line,
      /has placed an Emergency Call|lunch at 12|appel d/,
      "no message content in logs",
    );
  }

  // The capture exported as a fixture is one the corpus test accepts.
  const fixtureResponse = await relay.api(
    "POST",
    `/api/org/${org.orgId}/drills/${drill.id}/captures/${emergency.id}/fixture`,
    { description: "Emulator 933 drill" },
  );
  assert.equal(fixtureResponse.status, 200, fixtureResponse.text);
  const fixture: DetectionFixture = fixtureResponse.json();
  assert.equal(fixture.description, "Emulator 933 drill");
  assert.equal(fixture.expected.emergency, true);
  const replay = detectEmergency(fixture.message, fixture.rules ?? []);
  assert.ok(replay.emergency);
  const { emergency: _e, ruleId, ...fields } = fixture.expected as Record<string, unknown>;
  assert.equal(replay.ruleId, ruleId);
  for (const [field, value] of Object.entries(fields))
    assert.deepEqual(replay.value[field as keyof typeof replay.value], value, field);
  const ordinaryFixture = (
    await relay.api("POST", `/api/org/${org.orgId}/drills/${drill.id}/captures/${ordinary.id}/fixture`)
  ).json();
  assert.deepEqual(ordinaryFixture.expected, { emergency: false });

  // The French capture becomes a rule (phrase derived from it), and that rule now detects it.
  const made = await relay.api(
    "POST",
    `/api/org/${org.orgId}/drills/${drill.id}/captures/${french.id}/rule`,
    {
      name: "Français",
    },
  );
  assert.equal(made.status, 201, made.text);
  const { rule, detection } = made.json();
  assert.deepEqual([rule.name, rule.kind, rule.value], ["Français", "phrase", "a passé un appel d'urgence"]);
  assert.equal(detection.detected, true);
  assert.equal(detection.ruleId, rule.id);
  assert.equal(detection.emergency.caller.id, caller.id);
  assert.equal(detection.emergency.location.place, "Bâtiment 4");

  // While the drill ran, its ordinary message was stored (the test can see it), the one before was not.
  assert.notDeepEqual(await storedAnywhere(duringDrill), [], "the drill kept its ordinary message");
  assert.deepEqual(await storedAnywhere(beforeDrill), []);

  const ended = await relay.api("POST", `/api/org/${org.orgId}/drills/${drill.id}/end`);
  assert.equal(ended.status, 200, ended.text);
  assert.equal(ended.json().state, "ended");
  assert.equal(ended.json().endedEarly, true);

  const afterDrill = marker("after-drill");
  const afterId = await post(
    emu,
    tenant,
    chatId,
    tenant.otherUser.id,
    `<p>${afterDrill} see you tomorrow</p>`,
  );
  await step();
  const status = (await relay.api("GET", `/api/org/${org.orgId}/ms-teams/status`)).json();
  assert.ok(status.messagesReceived.notification >= 5, "the message after the drill was handed to detection");
  const afterView = (await relay.api("GET", `/api/org/${org.orgId}/drills/${drill.id}`)).json();
  assert.equal(afterView.captureCount, 3);
  assert.ok(!afterView.captures.some((c: { messageId: string }) => c.messageId === afterId));
  assert.deepEqual(await storedAnywhere(afterDrill), [], "ordinary chat after the drill is stored nowhere");
  assert.ok(!relay.logs.some((l) => l.includes(afterDrill)), "nor logged");

  // A week after the drill its captures go (listing the drills purges); the drill itself stays on record.
  clock.advance(7 * DAY - 10 * MINUTE);
  const kept = (await relay.api("GET", `/api/org/${org.orgId}/drills`)).json().drills;
  assert.equal(kept[0].captureCount, 3, "not yet");
  clock.advance(11 * MINUTE);
  const listed = (await relay.api("GET", `/api/org/${org.orgId}/drills`)).json().drills;
  assert.equal(listed.length, 1);
  assert.equal(listed[0].captureCount, 0);
  assert.equal(listed[0].capturesPurgedAt, new Date(clock.now()).toISOString());
  const gone = await relay.api(
    "POST",
    `/api/org/${org.orgId}/drills/${drill.id}/captures/${ordinary.id}/fixture`,
  );
  assert.equal(gone.status, 404);
});
