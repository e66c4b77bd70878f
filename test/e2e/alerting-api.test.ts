import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { anEmergency } from "../helpers/alert-fixtures.ts";
import { startHttpReceiver, type HttpReceiver } from "../helpers/channel-receivers.ts";
import { startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-setup.ts";

const clock = new FakeClock();
let emu: Emulator;
let relay: TestRelay;
let hooks: HttpReceiver;

before(async () => {
  emu = await startEmulator({ clock });
  relay = await startTestRelay(emu, clock, {
    RELAY_ALLOW_PRIVATE_TARGETS: "true",
    RELAY_CHANNEL_TIMEOUT_MS: "3000",
  });
  hooks = await startHttpReceiver();
});
after(async () => {
  await relay.close();
  await hooks.close();
  await emu.close();
});
afterEach(() => hooks.reset());

async function newOrg(): Promise<string> {
  const res = await relay.api("POST", "/api/orgs", { name: "Contoso" });
  assert.equal(res.status, 201, res.text);
  return res.json().id;
}

const fieldsOf = (res: { json(): any }) =>
  res
    .json()
    .error.fields.map((f: { field: string }) => f.field)
    .sort();

async function raise(orgId: string, isTest = false) {
  const raised = await relay.relay.alerting.raiser.raise(orgId, {
    value: anEmergency({ isTest, dialString: isTest ? "933" : "911" }),
    ruleId: "default",
  });
  await raised.sent;
  await relay.relay.alerting.idle();
  return raised.emergencyId;
}

test("channels: created with a generated secret shown once, never again; every bad field named; send test", async () => {
  const orgId = await newOrg();
  const base = `/api/org/${orgId}/channels`;
  const created = await relay.api("POST", base, {
    type: "webhook",
    name: " Desk hook ",
    url: `${hooks.url}/desk`,
  });
  assert.equal(created.status, 201, created.text);
  const channel = created.json();
  assert.match(channel.id, /^ch_[0-9a-f]{16}$/);
  assert.equal(channel.name, "Desk hook");
  const secret = channel.generatedSecrets?.signingSecret as string;
  assert.ok(secret && secret.length > 20, "the generated signing secret, once");
  const read = await relay.api("GET", `${base}/${channel.id}`);
  assert.equal(read.status, 200);
  assert.equal(read.text.includes(secret), false);
  assert.equal(read.json().generatedSecrets, undefined);
  const list = await relay.api("GET", base);
  assert.equal(list.text.includes(secret), false);
  assert.equal(
    list.text.includes("/desk"),
    false,
    "the URL (a credential for some receivers) is not shown whole",
  );

  const bad = await relay.api("POST", base, {
    type: "webhook",
    name: "",
    url: "ftp://example.com",
    colour: "red",
  });
  assert.equal(bad.status, 400);
  assert.deepEqual(fieldsOf(bad), ["colour", "name", "url"]);
  const badType = await relay.api("POST", base, { type: "pager", url: "https://x.example" });
  assert.deepEqual(fieldsOf(badType), ["name", "type"]);
  assert.equal((await relay.api("GET", base)).json().channels.length, 1, "nothing stored by bad requests");

  const renamed = await relay.api("PATCH", `${base}/${channel.id}`, { name: "Front desk", enabled: false });
  assert.deepEqual([renamed.json().name, renamed.json().enabled], ["Front desk", false]);
  assert.deepEqual(fieldsOf(await relay.api("PATCH", `${base}/${channel.id}`, { type: "email" })), ["type"]);
  assert.equal((await relay.api("GET", `/api/org/org_0000000000000000/channels`)).status, 404);
  assert.equal((await relay.api("GET", base, undefined, null)).status, 401);

  // "Send test" is synchronous and works on a disabled channel (checking a fix before enabling it).
  const tested = await relay.api("POST", `${base}/${channel.id}/test`);
  assert.equal(tested.status, 200, tested.text);
  assert.deepEqual([tested.json().outcome, tested.json().status], ["delivered", 200]);
  assert.equal(hooks.requests.length, 1);
  assert.equal(hooks.requests[0]!.json.data.kind, "test");
  hooks.goneNext();
  const gone = (await relay.api("POST", `${base}/${channel.id}/test`)).json();
  assert.deepEqual([gone.outcome, gone.status], ["gone", 410]);
});

test("policies: every bad field named; a channel in use cannot be deleted", async () => {
  const orgId = await newOrg();
  const channel = (
    await relay.api("POST", `/api/org/${orgId}/channels`, {
      type: "slack",
      name: "Slack",
      url: `${hooks.url}/s`,
    })
  ).json();
  const base = `/api/org/${orgId}/policies`;
  const bad = await relay.api("POST", base, {
    name: "Desk",
    callType: "sometimes",
    tiers: [
      { channelIds: ["ch_nope"] },
      { afterSeconds: 0, channelIds: [channel.id], repeat: { everySeconds: 1, times: 1 } },
    ],
  });
  assert.equal(bad.status, 400);
  assert.deepEqual(fieldsOf(bad), [
    "callType",
    "tiers[0].channelIds[0]",
    "tiers[1].afterSeconds",
    "tiers[1].repeat.everySeconds",
  ]);
  const created = await relay.api("POST", base, { name: "Desk", tiers: [{ channelIds: [channel.id] }] });
  assert.equal(created.status, 201, created.text);
  const policy = created.json();
  assert.deepEqual(
    [policy.kind, policy.callType, policy.priority, policy.enabled],
    ["emergency", "real", 100, true],
  );
  const patched = await relay.api("PATCH", `${base}/${policy.id}`, {
    locationMatch: { type: "substring", value: "Building 4" },
  });
  assert.deepEqual(patched.json().locationMatch, { field: "any", type: "substring", value: "Building 4" });
  assert.deepEqual(fieldsOf(await relay.api("PATCH", `${base}/${policy.id}`, { tiers: [] })), ["tiers"]);

  const inUse = await relay.api("DELETE", `/api/org/${orgId}/channels/${channel.id}`);
  assert.equal(inUse.status, 409);
  assert.equal(inUse.json().error.code, "ERR_CHANNEL_IN_USE");
  assert.match(inUse.json().error.message, /"Desk"/);
  assert.equal((await relay.api("DELETE", `${base}/${policy.id}`)).status, 204);
  assert.equal((await relay.api("DELETE", `/api/org/${orgId}/channels/${channel.id}`)).status, 204);
});

test("templates: unknown variables refused on save, preview renders a sample, overrides reach real alerts", async () => {
  const orgId = await newOrg();
  const base = `/api/org/${orgId}/templates`;
  const list = (await relay.api("GET", base)).json().templates;
  assert.deepEqual(
    list.map((t: any) => [t.kind, t.isDefault]),
    [
      ["emergency", true],
      ["escalation", true],
      ["test", true],
      ["operational", true],
    ],
  );
  const bad = await relay.api("PUT", `${base}/emergency`, {
    title: "{{caler}} at {{location}}",
    text: "{{ackUrl}}",
  });
  assert.equal(bad.status, 400);
  assert.deepEqual(fieldsOf(bad), ["title"]);
  assert.match(bad.json().error.fields[0].reason, /unknown variable \{\{caler\}\}/);
  assert.equal((await relay.api("PUT", `${base}/pager`, { title: "x", text: "y" })).status, 404);

  const preview = await relay.api("POST", `${base}/emergency/preview`, {
    title: "SOS {{caller}} @ {{place}}",
  });
  assert.equal(preview.status, 200, preview.text);
  assert.equal(preview.json().message.title, "SOS Pat Jones @ Building 4, Floor 2");
  assert.match(preview.json().message.text, /\/ack\/EXAMPLE-TOKEN/);
  const operational = (await relay.api("POST", `${base}/operational/preview`, {})).json().message;
  assert.match(operational.title, /reauth_required/);

  const saved = await relay.api("PUT", `${base}/emergency`, {
    title: "SOS {{dialString}} {{caller}}",
    text: "Go to {{location}}. Ack: {{ackUrl}}",
  });
  assert.equal(saved.status, 200, saved.text);
  const hook = (
    await relay.api("POST", `/api/org/${orgId}/channels`, {
      type: "webhook",
      name: "h",
      url: `${hooks.url}/t`,
    })
  ).json();
  await relay.api("POST", `/api/org/${orgId}/policies`, { name: "Desk", tiers: [{ channelIds: [hook.id] }] });
  await raise(orgId);
  const alert = hooks.requests[0]!.json.data;
  assert.equal(alert.title, "SOS 911 Pat Jones");
  assert.match(
    alert.text,
    /^Go to Building 4, Floor 2, 1 Microsoft Way, Redmond, WA 98052\. Ack: http:\/\/127\.0\.0\.1:\d+\/ack\//,
  );
  assert.equal((await relay.api("DELETE", `${base}/emergency`)).status, 204);
  assert.equal((await relay.api("GET", base)).json().templates[0].isDefault, true);
});

test("deliveries: a refused one is a dead letter, replayable; a 410 disables the channel; filters are checked", async () => {
  const orgId = await newOrg();
  const channels = `/api/org/${orgId}/channels`;
  const refusing = (
    await relay.api("POST", channels, { type: "webhook", name: "refusing", url: `${hooks.url}/r` })
  ).json();
  const leaving = (
    await relay.api("POST", channels, { type: "webhook", name: "leaving", url: `${hooks.url}/l` })
  ).json();
  await relay.api("POST", `/api/org/${orgId}/policies`, {
    name: "Desk",
    tiers: [{ channelIds: [refusing.id, leaving.id] }],
  });
  hooks.respond = (r) =>
    r.path === "/r" ? { status: 400, body: "bad" } : r.path === "/l" ? { status: 410 } : undefined;
  const emergencyId = await raise(orgId);
  hooks.respond = undefined;
  const detail = (await relay.api("GET", `/api/emergencies/${emergencyId}`)).json();
  const byName = Object.fromEntries(detail.deliveries.map((d: any) => [d.channel.name, d]));
  assert.equal(byName.refusing.status, "dead");
  assert.equal(byName.refusing.last.statusCode, 400);
  assert.equal(byName.leaving.status, "dead");
  const leavingNow = (await relay.api("GET", `${channels}/${leaving.id}`)).json();
  assert.equal(leavingNow.enabled, false);
  assert.match(leavingNow.disabledReason, /410/);
  const events = (await relay.api("GET", `/api/org/${orgId}/events`)).json().events.map((e: any) => e.kind);
  assert.ok(events.includes("channel_disabled"));
  assert.ok(events.includes("alert_delivery_failed"));

  const dead = (await relay.api("GET", `/api/deliveries?orgId=${orgId}&status=dead`)).json().deliveries;
  assert.deepEqual(dead.map((d: any) => d.id).sort(), [byName.leaving.id, byName.refusing.id].sort());
  assert.deepEqual(fieldsOf(await relay.api("GET", "/api/deliveries?status=lost&limit=x&colour=1")), [
    "colour",
    "limit",
    "status",
  ]);
  const refused = await relay.api("POST", `/api/deliveries/${byName.leaving.id}/replay`);
  assert.equal(refused.status, 409);
  assert.equal(refused.json().error.code, "ERR_CHANNEL_DISABLED");
  const replayed = await relay.api("POST", `/api/deliveries/${byName.refusing.id}/replay`);
  assert.equal(replayed.status, 200, replayed.text);
  assert.equal(replayed.json().status, "pending");
  await relay.relay.alerting.idle();
  const after = (await relay.api("GET", `/api/emergencies/${emergencyId}`)).json();
  const again = after.deliveries.find((d: any) => d.id === byName.refusing.id);
  assert.deepEqual([again.status, again.attempts], ["delivered", 2]);
  assert.ok(after.timeline.some((e: any) => e.kind === "replayed"));
  assert.equal(
    (await relay.api("POST", `/api/deliveries/${byName.refusing.id}/replay`)).json().error.code,
    "ERR_DELIVERY_STATE",
  );
  assert.equal((await relay.api("POST", `/api/deliveries/dl_0000000000000000/replay`)).status, 404);

  const note = await relay.api("POST", `/api/emergencies/${emergencyId}/notes`, {
    text: "Security on site",
    by: "Alex",
  });
  assert.equal(note.status, 201);
  const badFilter = await relay.api("GET", "/api/emergencies?since=yesterday&state=closed&limit=0");
  assert.equal(badFilter.status, 400);
  assert.deepEqual(fieldsOf(badFilter), ["limit", "since", "state"]);
  const since = new Date(clock.now() - 1000).toISOString();
  const listed = (await relay.api("GET", `/api/emergencies?orgId=${orgId}&since=${since}&state=open`)).json();
  assert.deepEqual(
    listed.emergencies.map((e: any) => e.id),
    [emergencyId],
  );
  assert.deepEqual(fieldsOf(await relay.api("POST", `/api/emergencies/${emergencyId}/ack`, {})), ["by"]);
  assert.equal(
    (await relay.api("POST", `/api/emergencies/em_0000000000000000/ack`, { by: "x" })).status,
    404,
  );
});
