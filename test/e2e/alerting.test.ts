import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { startHttpReceiver, type HttpReceiver, type RecordedRequest } from "../helpers/channel-receivers.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
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
import { startSmtpReceiver, type SmtpReceiver } from "../helpers/smtp-receiver.ts";

const SECOND = 1000;
const LEASE = 120 * SECOND;
const clock = new FakeClock();
let emu: Emulator;
let relay: TestRelay;
let hooks: HttpReceiver;
let smtp: SmtpReceiver;

before(async () => {
  emu = await startEmulator({ clock, allowHttpWebhooks: true });
  // The receivers are local, so the relay must be allowed to call private targets (as `demo` is).
  relay = await startTestRelay(emu, clock, {
    RELAY_ALLOW_PRIVATE_TARGETS: "true",
    RELAY_CHANNEL_TIMEOUT_MS: "3000",
  });
  hooks = await startHttpReceiver();
  smtp = await startSmtpReceiver({ security: "none" });
});
after(async () => {
  await relay.close();
  await hooks.close();
  await smtp.close();
  await emu.close();
});
afterEach(async () => {
  await control(emu, "DELETE", "/_emulator/faults");
  hooks.reset();
  smtp.reset();
});

interface Org {
  orgId: string;
  tenant: TenantSetup;
  callerId: string;
}

/** A tenant and its org, connected, with its Graph subscription, and a caller who can dial. */
async function connectedOrg(): Promise<Org> {
  const tenant = await seedTenant(emu);
  const { orgId } = await createOrgWithApp(emu, relay, tenant);
  assert.equal((await connectOrg(emu, relay, orgId)).status, 200);
  await relay.relay.scheduler.runDue();
  const caller = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/users`, {
    displayName: "Pat Caller",
    userPrincipalName: `pat.caller@${tenant.domain}`,
  });
  return { orgId, tenant, callerId: caller.id };
}

async function api<T = any>(
  method: string,
  path: string,
  body?: object,
  expected = [200, 201, 204],
): Promise<T> {
  const res = await relay.api(method, path, body);
  assert.ok(expected.includes(res.status), `${method} ${path} -> ${res.status} ${res.text}`);
  return (res.text ? res.json() : undefined) as T;
}

async function webhookChannel(org: Org, name: string): Promise<string> {
  const created = await api("POST", `/api/org/${org.orgId}/channels`, {
    type: "webhook",
    name,
    url: `${hooks.url}/${name}`,
  });
  return created.id;
}

async function policy(org: Org, body: object): Promise<string> {
  return (await api("POST", `/api/org/${org.orgId}/policies`, { name: "Desk", ...body })).id;
}

/** Everything in flight settles: Graph's deliveries, the inbox worker, the alerts it raised. */
async function settle(): Promise<void> {
  await emu.settle();
  await relay.relay.intake.processInbox();
  await relay.relay.alerting.idle();
}

async function placeCall(
  org: Org,
  dialString: "911" | "933" | "112" = "911",
  location: object = { kind: "dynamic", place: "Building 4, Floor 2", address: "1 Main Street, Springfield" },
) {
  const call = await control(emu, "POST", `/_emulator/tenants/${org.tenant.tenantId}/emergency-calls`, {
    callerId: org.callerId,
    dialString,
    notify: [org.tenant.serviceUser.id],
    location,
  });
  await settle();
  return call.messages[0] as { chatId: string; messageId: string };
}

const at = (name: string) => hooks.requests.filter((r) => r.path === `/${name}`);
const alertOf = (r: RecordedRequest) => r.json.data;

async function runUntil(until: number) {
  await runJobsUntil(relay, clock, until, async () => {
    await relay.relay.alerting.idle();
  });
  await relay.relay.alerting.idle();
}

test("a simulated call reaches every configured channel once; duplicates and edits never alert again", async () => {
  const org = await connectedOrg();
  const hook = await webhookChannel(org, "desk-hook");
  const slack = (
    await api("POST", `/api/org/${org.orgId}/channels`, {
      type: "slack",
      name: "Slack",
      url: `${hooks.url}/slack`,
    })
  ).id;
  const email = (
    await api("POST", `/api/org/${org.orgId}/channels`, {
      type: "email",
      name: "Desk mail",
      host: "127.0.0.1",
      port: smtp.port,
      security: "none",
      from: "relay@contoso.com",
      to: ["desk@contoso.com", "facilities@contoso.com"],
    })
  ).id;
  await policy(org, { tiers: [{ channelIds: [hook, slack, email] }] });

  const message = await placeCall(org);
  await smtp.waitForMessages(1);
  const [request] = at("desk-hook");
  assert.ok(request, "webhook received the alert");
  const alert = alertOf(request);
  assert.equal(request.json.type, "emergency.detected");
  assert.equal(alert.kind, "emergency");
  assert.match(
    alert.title,
    /^EMERGENCY CALL 911: Pat Caller at Building 4, Floor 2, 1 Main Street, Springfield$/,
  );
  assert.equal(alert.emergency.location.quality, "known");
  assert.match(alert.acknowledgeUrl, new RegExp(`^${relay.url}/ack/[A-Za-z0-9_-]{43}$`));
  assert.equal(request.headers["webhook-id"], alert.id);
  assert.ok(request.headers["webhook-signature"]);
  assert.equal(at("slack").length, 1);
  assert.equal(smtp.messages.length, 1);
  assert.match(smtp.messages[0]!.parsed.subject ?? "", /EMERGENCY CALL 911: Pat Caller/);
  assert.deepEqual(smtp.messages[0]!.envelope.to, ["desk@contoso.com", "facilities@contoso.com"]);

  const { emergencies } = await api("GET", `/api/emergencies?orgId=${org.orgId}`);
  assert.equal(emergencies.length, 1);
  assert.equal(emergencies[0].state, "open");
  assert.equal(emergencies[0].dialString, "911");
  const detail = await api("GET", `/api/emergencies/${emergencies[0].id}`);
  assert.deepEqual(detail.deliveries.map((d: any) => [d.channel.type, d.status, d.attempts]).sort(), [
    ["email", "delivered", 1],
    ["slack", "delivered", 1],
    ["webhook", "delivered", 1],
  ]);
  for (const d of detail.deliveries) assert.equal(typeof d.firstAttemptLatencyMs, "number");
  const kinds = detail.timeline.map((e: any) => e.kind);
  assert.deepEqual(kinds.slice(0, 2), ["detected", "routed"]);
  assert.equal(kinds.filter((k: string) => k === "delivered").length, 3);
  assert.equal(
    JSON.stringify(detail).includes(alert.acknowledgeUrl.split("/ack/")[1]),
    false,
    "no link token in the API",
  );

  const metrics = (await httpRequest(`${relay.url}/metrics`)).text;
  assert.match(metrics, /relay_alert_attempts_total\{purpose="initial",outcome="delivered"\} 3/);
  assert.match(metrics, /relay_alert_first_request_seconds_count 3/);

  // Graph delivers the notification again, and the message is edited: no second emergency, no second alert.
  await control(emu, "POST", "/_emulator/faults", { target: "delivery", kind: "duplicate", times: 2 });
  await control(
    emu,
    "PATCH",
    `/_emulator/tenants/${org.tenant.tenantId}/chats/${message.chatId}/messages/${message.messageId}`,
    {
      content:
        "<p>Pat Caller has placed an Emergency Call</p><p>Dialed: 911</p><p>Location: Building 4, Floor 3</p>",
    },
  );
  await settle();
  await runUntil(clock.now() + 11 * 60 * SECOND);
  assert.equal((await api("GET", `/api/emergencies?orgId=${org.orgId}`)).emergencies.length, 1);
  assert.equal(at("desk-hook").length, 1);
  assert.equal(smtp.messages.length, 1);
});

test("a receiver that fails, then recovers, gets the alert once it is back", async () => {
  const org = await connectedOrg();
  const hook = await webhookChannel(org, "flaky");
  await policy(org, { tiers: [{ channelIds: [hook] }] });
  hooks.failNext(2, 503);
  const start = clock.now();
  await placeCall(org);
  assert.equal(at("flaky").length, 1);
  const [summary] = (await api("GET", `/api/emergencies?orgId=${org.orgId}`)).emergencies;
  let [delivery] = (await api("GET", `/api/emergencies/${summary.id}`)).deliveries;
  assert.deepEqual([delivery.status, delivery.attempts, delivery.last.statusCode], ["pending", 1, 503]);

  await runUntil(start + 60 * SECOND);
  assert.equal(at("flaky").length, 3, "two failures, then the alert");
  [delivery] = (await api("GET", `/api/emergencies/${summary.id}`)).deliveries;
  assert.deepEqual([delivery.status, delivery.attempts], ["delivered", 3]);
  assert.deepEqual(
    delivery.attemptLog.map((a: any) => a.statusCode),
    [503, 503, 200],
  );
  const ids = new Set(at("flaky").map((r) => r.headers["webhook-id"]));
  assert.equal(ids.size, 1, "one id on every attempt, for the receiver to dedupe");
});

test("nobody acknowledges: the next tier is notified on time; GET on the link acknowledges nothing, POST does and stops escalation", async () => {
  const org = await connectedOrg();
  const desk = await webhookChannel(org, "tier0");
  const managers = await webhookChannel(org, "tier1");
  const director = await webhookChannel(org, "tier2");
  await policy(org, {
    tiers: [
      { channelIds: [desk], repeat: { everySeconds: 60, times: 5 } },
      { afterSeconds: 120, channelIds: [managers] },
      { afterSeconds: 600, channelIds: [director] },
    ],
  });
  await placeCall(org);
  const start = clock.now();
  assert.equal(at("tier0").length, 1);

  await runUntil(start + 119 * SECOND);
  assert.equal(at("tier1").length, 0, "not before its time");
  assert.equal(at("tier0").length, 2, "one reminder at 60 s");
  await runUntil(start + 120 * SECOND);
  assert.equal(at("tier1").length, 1, "tier 1 at 120 s");
  const escalation = alertOf(at("tier1")[0]!);
  assert.equal(escalation.kind, "escalation");
  assert.match(escalation.title, /^NOT ACKNOWLEDGED \(escalation tier 1\)/);

  // A mail scanner (or the responder's phone previewing the link) fetches it: nothing changes.
  const link = escalation.acknowledgeUrl as string;
  const page = await httpRequest(link);
  assert.equal(page.status, 200);
  assert.match(page.text, /data-result="confirm"/);
  assert.match(page.text, /<form method="post">/);
  assert.match(String(page.headers["content-security-policy"]), /default-src 'none'/);
  assert.equal(page.headers["referrer-policy"], "no-referrer");
  const [open] = (await api("GET", `/api/emergencies?orgId=${org.orgId}`)).emergencies;
  assert.equal(open.state, "open");

  clock.advance(10 * SECOND);
  const done = await httpRequest(link, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "by=Alex+%3Cscript%3E",
  });
  assert.equal(done.status, 200);
  assert.match(done.text, /data-result="acknowledged"/);
  assert.match(done.text, /Alex &lt;script&gt;/, "escaped");
  const again = await httpRequest(link, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "by=Blake",
  });
  assert.match(again.text, /data-result="already"/);
  assert.match(again.text, /Acknowledged by <strong>Alex &lt;script&gt;<\/strong>/);

  const tier0Before = at("tier0").length;
  await runUntil(start + 3600 * SECOND);
  assert.equal(at("tier2").length, 0, "no escalation after the acknowledgement");
  assert.equal(at("tier0").length, tier0Before, "no more reminders");
  const detail = await api("GET", `/api/emergencies/${open.id}`);
  assert.equal(detail.state, "acknowledged");
  assert.deepEqual(
    [detail.acknowledgement.by, detail.acknowledgement.via, detail.acknowledgement.afterSeconds],
    ["Alex <script>", "link", 130],
  );
  const ack = detail.timeline.find((e: any) => e.kind === "acknowledged");
  assert.match(ack.message, /^Acknowledged by Alex <script> with the link sent to tier1 after 130 s$/);
  assert.ok(detail.timeline.some((e: any) => e.kind === "escalated" && e.details.tier === 1));

  // The API says who was first, too.
  const viaApi = await api("POST", `/api/emergencies/${open.id}/ack`, { by: "Casey" });
  assert.equal(viaApi.acknowledged, false);
  assert.equal(viaApi.emergency.acknowledgement.by, "Alex <script>");
  const unknown = await httpRequest(`${relay.url}/ack/${"A".repeat(43)}`);
  assert.equal(unknown.status, 404);
  // The link is a credential: it appears in no log line (request logs show /ack/[redacted]).
  const token = link.split("/ack/")[1]!;
  assert.equal(relay.logs.join("").includes(token), false);
  assert.ok(relay.logs.join("").includes("/ack/[redacted]"));
});

test("a test call (933) goes only to the test policy; a real one only to the real policy", async () => {
  const org = await connectedOrg();
  const real = await webhookChannel(org, "real-desk");
  const drills = await webhookChannel(org, "drills");
  await policy(org, { name: "Real", callType: "real", tiers: [{ channelIds: [real] }] });
  await policy(org, { name: "Drills", callType: "test", tiers: [{ channelIds: [drills] }] });
  await placeCall(org, "933");
  assert.equal(at("real-desk").length, 0);
  assert.equal(at("drills").length, 1);
  const test933 = alertOf(at("drills")[0]!);
  assert.equal(test933.isTestCall, true);
  assert.match(test933.title, /^TEST CALL 933 \(not an emergency\)/);
  await placeCall(org, "112", { kind: "unknown" });
  assert.equal(at("real-desk").length, 1);
  assert.equal(at("drills").length, 1);
  assert.match(alertOf(at("real-desk")[0]!).title, /LOCATION UNKNOWN/);
});

test("an outbox row claimed by a dead instance is taken over after its lease; a restart loses nothing", async () => {
  const org = await connectedOrg();
  const hook = await webhookChannel(org, "takeover");
  await policy(org, { tiers: [{ channelIds: [hook] }] });
  hooks.failNext(1, 503);
  await placeCall(org);
  const [emergency] = (await api("GET", `/api/emergencies?orgId=${org.orgId}`)).emergencies;
  // Another instance claims the row when its retry comes due, then dies holding it.
  const [pending] = (await api("GET", `/api/emergencies/${emergency.id}`)).deliveries;
  const due = Date.parse(pending.nextAttemptAt);
  clock.set(due);
  const stolen = await relay.relay.alerting.outbox.claim("dead-instance", clock.now(), LEASE, 100);
  assert.equal(stolen.length, 1);
  await runUntil(due + LEASE - 1);
  assert.equal(at("takeover").length, 1, "nobody sends while the lease holds");
  await runUntil(due + LEASE);
  assert.equal(at("takeover").length, 2, "taken over right after the lease");
  const [delivery] = (await api("GET", `/api/emergencies/${emergency.id}`)).deliveries;
  assert.deepEqual([delivery.status, delivery.attempts], ["delivered", 3]);

  // The relay stops while a retry is pending and starts again: the alert still goes out.
  hooks.failNext(1, 503);
  await placeCall(org, "911", { kind: "user", address: "12 Elm Street" });
  assert.equal(at("takeover").length, 3);
  relay = await relay.restart();
  await runUntil(clock.now() + 60 * SECOND);
  assert.equal(at("takeover").length, 4);
  assert.match(alertOf(at("takeover")[3]!).title, /12 Elm Street \(entered by the caller, NOT VERIFIED\)/);
  const states = (await api("GET", `/api/emergencies?orgId=${org.orgId}`)).emergencies.map(
    (e: any) => e.state,
  );
  assert.deepEqual(states, ["open", "open"]);
});

test("operational problems reach the operations policy through the same channels, without floods", async () => {
  const org = await connectedOrg();
  const ops = await webhookChannel(org, "ops");
  await policy(org, { name: "Ops", kind: "operations", tiers: [{ channelIds: [ops] }] });
  // Microsoft revokes the service user's sessions; the next refresh finds out.
  await control(
    emu,
    "POST",
    `/_emulator/tenants/${org.tenant.tenantId}/users/${org.tenant.serviceUser.id}/revoke-sessions`,
  );
  for (let i = 0; i < 2; i++) await relay.api("POST", `/api/org/${org.orgId}/ms-teams/refresh`);
  await relay.relay.alerting.idle();
  const alerts = at("ops").map(alertOf);
  assert.equal(alerts.length, 1, "the same problem twice: one alert within the hour");
  assert.equal(alerts[0].kind, "operational");
  assert.match(alerts[0].title, /reauth_required/);
  assert.equal(alerts[0].acknowledgeUrl, null);
});
