import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import type { ChannelTarget } from "../../src/core/alert-channel.ts";
import type { AlertMessage, ChannelSendResult } from "../../src/core/alert.ts";
import type { Emergency } from "../../src/core/emergency.ts";
import { createAcknowledger } from "../../src/flows/acknowledge-emergency.ts";
import { JOB_ALERT_DELIVER, createOutboxWorker, type OutboxWorker } from "../../src/flows/deliver-outbox.ts";
import { createEscalator } from "../../src/flows/escalate.ts";
import {
  createEmergencyRaiser,
  JOB_ALERT_ESCALATE,
  type EmergencyRaiser,
} from "../../src/flows/raise-emergency.ts";
import { createOperationalAlertRouter } from "../../src/flows/route-operational-events.ts";
import { createJobScheduler, type JobScheduler } from "../../src/jobs/job-scheduler.ts";
import { AlertChannelStore } from "../../src/storage/alert-channel-store.ts";
import { AlertOutboxStore } from "../../src/storage/alert-outbox-store.ts";
import { AlertPolicyStore, type PolicyFields } from "../../src/storage/alert-policy-store.ts";
import { AlertTemplateStore } from "../../src/storage/alert-template-store.ts";
import { AlertThrottleStore } from "../../src/storage/alert-throttle-store.ts";
import { EmergencyStore } from "../../src/storage/emergency-store.ts";
import { JobStore } from "../../src/storage/job-store.ts";
import { OperationalEventStore } from "../../src/storage/operational-event-store.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { anEmergency } from "../helpers/alert-fixtures.ts";
import { forEachEngine, openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

const LEASE = 120_000;
const PUBLIC_URL = "https://relay.example.test";
const box = createSecretBox(Buffer.alloc(32, 9));

/** A channel driver standing in for src/channels: records every send, answers what the test scripts. */
class RecordingDrivers {
  sent: { message: AlertMessage; target: ChannelTarget }[] = [];
  script = new Map<string, ChannelSendResult[]>();
  async send(message: AlertMessage, target: ChannelTarget): Promise<ChannelSendResult> {
    this.sent.push({ message, target });
    const next = this.script.get(target.id)?.shift();
    return next ?? { outcome: "delivered", status: 200 };
  }
  to(channelId: string) {
    return this.sent.filter((s) => s.target.id === channelId).map((s) => s.message);
  }
}

forEachEngine("alerting flows", (engine) => {
  let database: TestDatabase;
  const clock = new FakeClock();
  let orgs: OrgStore;
  let channels: AlertChannelStore;
  let policies: AlertPolicyStore;
  let emergencies: EmergencyStore;
  let outbox: AlertOutboxStore;
  let jobs: JobStore;
  let events: OperationalEventStore;
  let drivers: RecordingDrivers;
  let worker: OutboxWorker;
  let raiser: EmergencyRaiser;
  let scheduler: JobScheduler;
  let orgId: string;
  let routed: Promise<unknown>[];

  before(async () => {
    database = await openTestDatabase(engine);
    const { db } = database;
    orgs = new OrgStore(db, box, clock);
    channels = new AlertChannelStore(db, box);
    policies = new AlertPolicyStore(db);
    emergencies = new EmergencyStore(db, engine, box);
    outbox = new AlertOutboxStore(db, engine, box);
    jobs = new JobStore(db, engine);
    events = new OperationalEventStore(db, clock);
  });
  after(() => database.close());

  /** A fresh org and the whole alerting engine wired like main.ts does, with `owner` as this process. */
  function wire(owner = "relay-1") {
    const templates = new AlertTemplateStore(database.db);
    const w = createOutboxWorker({
      outbox,
      channels,
      drivers,
      events: sink,
      jobs,
      clock,
      owner,
      leaseMs: LEASE,
      random: () => 0.5,
    });
    const r = createEmergencyRaiser({
      emergencies,
      policies,
      channels,
      templates,
      orgs,
      dispatch: (c) => w.dispatch(c),
      events: sink,
      clock,
      owner,
      leaseMs: LEASE,
      publicUrl: PUBLIC_URL,
    });
    const escalator = createEscalator({
      emergencies,
      channels,
      templates,
      orgs,
      dispatch: (c) => w.dispatch(c),
      jobs,
      clock,
      owner,
      leaseMs: LEASE,
      publicUrl: PUBLIC_URL,
    });
    const s = createJobScheduler({
      store: jobs,
      clock,
      owner,
      handlers: {
        [JOB_ALERT_DELIVER]: (job) => w.runJob(job.dedupeKey!.slice(JOB_ALERT_DELIVER.length + 1)),
        [JOB_ALERT_ESCALATE]: (job) => escalator.runJob(job.dedupeKey!.slice(JOB_ALERT_ESCALATE.length + 1)),
      },
      onError: (_job, error) => {
        throw error;
      },
    });
    return { worker: w, raiser: r, scheduler: s };
  }

  const router = () =>
    createOperationalAlertRouter({
      policies,
      channels,
      templates: new AlertTemplateStore(database.db),
      orgs,
      outbox,
      dispatch: (c) => worker.dispatch(c),
      throttle: new AlertThrottleStore(database.db),
      clock,
      owner: "relay-1",
      leaseMs: LEASE,
    });

  // The events sink main.ts builds: store, then route warnings and worse to the operations policy.
  const sink = {
    append: async (event: Parameters<OperationalEventStore["append"]>[0]) => {
      const stored = await events.append(event);
      routed.push(router().route(stored));
      return stored;
    },
  };

  beforeEach(async () => {
    drivers = new RecordingDrivers();
    routed = [];
    ({ worker, raiser, scheduler } = wire());
    orgId = (await orgs.create({ name: "Contoso" })).id;
  });

  async function channel(name: string, enabled = true) {
    return channels.create(
      {
        orgId,
        type: "webhook",
        name,
        enabled,
        settings: { url: `https://${name}.example` },
        secrets: { signingSecret: "s" },
      },
      clock.now(),
    );
  }

  async function policy(fields: Partial<PolicyFields> & { tiers: PolicyFields["tiers"] }) {
    return policies.create(
      orgId,
      {
        name: "Desk",
        kind: "emergency",
        callType: "real",
        locationMatch: null,
        priority: 100,
        enabled: true,
        retry: null,
        ...fields,
      },
      clock.now(),
    );
  }

  const tier = (
    channelIds: string[],
    afterSeconds = 0,
    repeat: { everySeconds: number; times: number } | null = null,
  ) => ({
    afterSeconds,
    channelIds,
    repeat,
  });

  async function raise(emergency: Emergency = anEmergency()) {
    const result = await raiser.raise(orgId, { value: emergency, ruleId: "default" });
    await result.sent;
    return result;
  }

  /** Runs every job due up to `until`, moving the clock from one to the next, as runJobsUntil does for the relay. */
  async function runJobsUntil(until: number) {
    for (;;) {
      const next = await jobs.nextRunAt();
      if (next === undefined || next > until) break;
      if (next > clock.now()) clock.set(next);
      await scheduler.runDue();
      await worker.idle();
    }
    if (clock.now() < until) clock.set(until);
  }

  const kinds = async (emergencyId: string) => (await emergencies.timeline(emergencyId)).map((e) => e.kind);

  it("raises: stored first, every tier-0 channel gets the alert at once, with its own ack link; a duplicate sends nothing", async () => {
    const a = await channel("a");
    const b = await channel("b");
    const p = await policy({ tiers: [tier([a.id, b.id])] });
    const emergency = anEmergency();
    const result = await raise(emergency);
    assert.equal(result.created, true);
    assert.equal(result.deliveries, 2);
    assert.equal(drivers.sent.length, 2);
    const [toA] = drivers.to(a.id);
    const [toB] = drivers.to(b.id);
    assert.equal(toA?.kind, "emergency");
    assert.equal(toA?.emergencyId, result.emergencyId);
    assert.match(toA?.acknowledgeUrl ?? "", /^https:\/\/relay\.example\.test\/ack\/[A-Za-z0-9_-]{43}$/);
    assert.notEqual(toA?.acknowledgeUrl, toB?.acknowledgeUrl, "a link per recipient channel");
    assert.equal(drivers.sent[0]?.target.secrets.signingSecret, "s", "the channel gets its secrets");

    const deliveries = await outbox.list({ emergencyId: result.emergencyId });
    assert.deepEqual(
      deliveries.map((d) => [d.status, d.attempts, d.policyId]),
      [
        ["delivered", 1, p.id],
        ["delivered", 1, p.id],
      ],
    );
    assert.deepEqual(
      new Set(deliveries.map((d) => d.id)),
      new Set([toA?.id, toB?.id]),
      "message id = delivery id",
    );
    assert.deepEqual(await kinds(result.emergencyId), [
      "detected",
      "routed",
      "attempt",
      "delivered",
      "attempt",
      "delivered",
    ]);
    assert.equal(
      (await jobs.list()).filter((j) => j.orgId === orgId).length,
      0,
      "no job left once delivered",
    );

    const again = await raise({ ...emergency, text: "edited" });
    assert.deepEqual([again.created, again.emergencyId, again.deliveries], [false, result.emergencyId, 0]);
    assert.equal(drivers.sent.length, 2);
  });

  it("a test call goes only to the test policy; without one it is recorded and sent nowhere", async () => {
    const real = await channel("real");
    await policy({ tiers: [tier([real.id])] });
    const ops = await channel("ops");
    await policy({ name: "Ops", kind: "operations", callType: "any", tiers: [tier([ops.id])] });

    const unrouted = await raise(anEmergency({ isTest: true, dialString: "933" }));
    assert.equal(unrouted.state, "unrouted");
    assert.equal(drivers.sent.length, 0);
    const timeline = await emergencies.timeline(unrouted.emergencyId);
    assert.equal(timeline[1]?.kind, "unrouted");
    assert.match(timeline[1]?.message ?? "", /nobody notified/);

    const test = await channel("test");
    await policy({ name: "Drills", callType: "test", tiers: [tier([test.id])] });
    const routedCall = await raise(anEmergency({ isTest: true, dialString: "933" }));
    assert.equal(routedCall.state, "open");
    assert.deepEqual(
      drivers.sent.map((s) => s.target.id),
      [test.id],
    );
    assert.equal(drivers.sent[0]?.message.kind, "test");
    assert.equal(drivers.sent[0]?.message.isTestCall, true);
  });

  it("a real call no policy matches goes to the operations policy and raises a critical event", async () => {
    const site = await channel("site");
    await policy({
      locationMatch: { field: "any", type: "substring", value: "Building 9" },
      tiers: [tier([site.id])],
    });
    const ops = await channel("ops");
    await policy({ name: "Ops", kind: "operations", callType: "any", tiers: [tier([ops.id])] });
    const result = await raise();
    await Promise.all(routed);
    await worker.idle();
    assert.equal(result.state, "open");
    assert.equal(drivers.sent[0]?.target.id, ops.id);
    assert.equal(drivers.sent[0]?.message.kind, "emergency");
    const recorded = await events.listRecent({ orgId, limit: 10 });
    assert.equal(recorded[0]?.kind, "emergency_unrouted");
    assert.equal(recorded[0]?.severity, "critical");
    // The event itself went to operations too.
    assert.equal(drivers.sent[1]?.message.kind, "operational");
    assert.match(drivers.sent[1]?.message.title ?? "", /emergency_unrouted/);
  });

  it("a failing receiver is retried with backoff, honouring Retry-After, and gets the alert once it is back", async () => {
    const flaky = await channel("flaky");
    await policy({ tiers: [tier([flaky.id])] });
    drivers.script.set(flaky.id, [
      { outcome: "retry", status: 503, retryAfterMs: null, detail: "HTTP 503" },
      { outcome: "retry", status: 429, retryAfterMs: 60_000, detail: "HTTP 429" },
    ]);
    const start = clock.now();
    const result = await raise();
    const [row] = await outbox.list({ emergencyId: result.emergencyId });
    assert.equal(row?.status, "pending");
    assert.equal(row?.nextAttemptAt, start + 5_000, "first backoff 5 s");
    await runJobsUntil(start + 4_999);
    assert.equal(drivers.sent.length, 1);
    await runJobsUntil(start + 5_000);
    assert.equal(drivers.sent.length, 2);
    const afterSecond = await outbox.get(row!.id);
    assert.equal(afterSecond?.nextAttemptAt, start + 5_000 + 60_000, "Retry-After beats the 10 s backoff");
    await runJobsUntil(start + 70_000);
    assert.equal(drivers.sent.length, 3);
    const done = await outbox.get(row!.id);
    assert.deepEqual([done?.status, done?.attempts, done?.firstAttemptAt], ["delivered", 3, start]);
    assert.deepEqual(
      drivers.sent.map((s) => s.message.id),
      [row!.id, row!.id, row!.id],
      "the same id on every attempt: receivers dedupe",
    );
    assert.deepEqual(
      (await outbox.attempts([row!.id])).map((a) => [a.outcome, a.statusCode]),
      [
        ["retry", 503],
        ["retry", 429],
        ["delivered", 200],
      ],
    );
  });

  it("bounded: a policy's retry budget runs out into a dead letter, reported; replay sends it again", async () => {
    const down = await channel("down");
    await policy({ tiers: [tier([down.id])], retry: { maxAttempts: 3, windowSeconds: 600 } });
    const retry: ChannelSendResult = {
      outcome: "retry",
      status: 500,
      retryAfterMs: null,
      detail: "HTTP 500",
    };
    drivers.script.set(down.id, [retry, retry, retry]);
    const result = await raise();
    await runJobsUntil(clock.now() + 3_600_000);
    const [row] = await outbox.list({ emergencyId: result.emergencyId });
    assert.deepEqual([row?.status, row?.attempts], ["dead", 3]);
    assert.match(row?.lastDetail ?? "", /gave up after 3 attempts/);
    assert.ok((await kinds(result.emergencyId)).includes("dead"));
    const failed = (await events.listRecent({ orgId, limit: 10 })).find(
      (e) => e.kind === "alert_delivery_failed",
    );
    assert.equal(failed?.severity, "error");

    const replayed = await worker.replay(row!.id);
    assert.equal(replayed.status, "pending");
    await worker.idle();
    await runJobsUntil(clock.now());
    const after = await outbox.get(row!.id);
    assert.deepEqual([after?.status, after?.attempts], ["delivered", 4]);
    assert.ok((await kinds(result.emergencyId)).includes("replayed"));
    await assert.rejects(worker.replay(row!.id), { code: "ERR_DELIVERY_STATE" });
    await assert.rejects(worker.replay("dl_nope"), { code: "ERR_NOT_FOUND" });
  });

  it("3xx and other refusals are dead at once; 410 disables the channel and says so", async () => {
    const moved = await channel("moved");
    const gone = await channel("gone");
    const fine = await channel("fine");
    await policy({ tiers: [tier([moved.id, gone.id, fine.id])] });
    drivers.script.set(moved.id, [
      { outcome: "failed", status: 301, detail: "HTTP 301 (redirects are not followed)" },
    ]);
    drivers.script.set(gone.id, [{ outcome: "gone", status: 410, detail: "HTTP 410" }]);
    const result = await raise();
    await Promise.all(routed);
    const byChannel = Object.fromEntries(
      (await outbox.list({ emergencyId: result.emergencyId })).map((d) => [d.channelName, d.status]),
    );
    assert.deepEqual(byChannel, { moved: "dead", gone: "dead", fine: "delivered" });
    const disabled = await channels.get(orgId, gone.id);
    assert.equal(disabled?.enabled, false);
    assert.match(disabled?.disabledReason ?? "", /410/);
    assert.ok((await kinds(result.emergencyId)).includes("channel_disabled"));
    const recorded = (await events.listRecent({ orgId, limit: 10 })).map((e) => e.kind);
    assert.ok(recorded.includes("channel_disabled"));
    const deadGone = (await outbox.list({ emergencyId: result.emergencyId })).find(
      (d) => d.channelId === gone.id,
    )!;
    await assert.rejects(worker.replay(deadGone.id), { code: "ERR_CHANNEL_DISABLED" });

    // A later alert to the disabled channel does not reach it.
    const sentBefore = drivers.sent.length;
    await raise();
    assert.equal(drivers.to(gone.id).length, 1);
    assert.equal(drivers.sent.length, sentBefore + 2);
  });

  it("nobody acknowledges: the next tier on time, repeats, then acknowledgement by link stops everything", async () => {
    const desk = await channel("desk");
    const managers = await channel("managers");
    const director = await channel("director");
    await policy({
      tiers: [
        tier([desk.id], 0, { everySeconds: 60, times: 5 }),
        tier([managers.id], 150),
        tier([director.id], 600),
      ],
    });
    const start = clock.now();
    const result = await raise();
    assert.deepEqual(
      drivers.sent.map((s) => s.target.id),
      [desk.id],
    );
    await runJobsUntil(start + 59_999);
    assert.equal(drivers.sent.length, 1, "nothing before the first repeat");
    await runJobsUntil(start + 60_000);
    assert.equal(drivers.to(desk.id).length, 2);
    assert.match(drivers.to(desk.id)[1]?.title ?? "", /^REMINDER 1:/);
    await runJobsUntil(start + 149_999);
    assert.equal(drivers.to(managers.id).length, 0, "tier 1 not before its time");
    await runJobsUntil(start + 150_000);
    const [escalation] = drivers.to(managers.id);
    assert.equal(escalation?.kind, "escalation");
    assert.match(escalation?.title ?? "", /escalation tier 1/);
    assert.equal(clock.now(), start + 150_000, "notified exactly on time");
    assert.ok((await kinds(result.emergencyId)).includes("escalated"));

    // GET of the link (lookup) acknowledges nothing; the POST does, and stops tier 2 and the repeats.
    const acks = createAcknowledger({ emergencies, channels, clock });
    const token = escalation!.acknowledgeUrl!.split("/ack/")[1]!;
    const looked = await acks.lookup(token);
    assert.equal(looked?.emergency.acknowledgement, null);
    assert.equal(looked?.channelName, "managers");
    clock.advance(5_000);
    const first = await acks.byLink(token, "Morgan");
    assert.equal(first?.acknowledged, true);
    assert.equal(first?.emergency.state, "acknowledged");
    const second = await acks.byApi(result.emergencyId, "Someone later");
    assert.equal(second.acknowledged, false);
    assert.equal(second.emergency.acknowledgement?.by, "Morgan");
    assert.equal(await acks.byLink("x".repeat(43), "Nobody"), undefined);

    const sent = drivers.sent.length;
    await runJobsUntil(start + 3_600_000);
    assert.equal(drivers.sent.length, sent, "no repeats or tiers after the acknowledgement");
    assert.equal(drivers.to(director.id).length, 0);
    const timeline = await emergencies.timeline(result.emergencyId);
    const ack = timeline.find((e) => e.kind === "acknowledged");
    assert.match(ack?.message ?? "", /^Acknowledged by Morgan with the link sent to managers after 155 s$/);
  });

  it("acknowledgement cancels escalations waiting for a retry, but not the first tier's", async () => {
    const desk = await channel("desk");
    const backup = await channel("backup");
    await policy({ tiers: [tier([desk.id]), tier([backup.id], 60)] });
    const retry: ChannelSendResult = {
      outcome: "retry",
      status: 503,
      retryAfterMs: 120_000,
      detail: "HTTP 503",
    };
    drivers.script.set(desk.id, [retry]);
    drivers.script.set(backup.id, [retry]);
    const start = clock.now();
    const result = await raise();
    await runJobsUntil(start + 60_000);
    const acks = createAcknowledger({ emergencies, channels, clock });
    const outcome = await acks.byApi(result.emergencyId, "Alex");
    assert.equal(outcome.cancelled, 1);
    const statuses = Object.fromEntries(
      (await outbox.list({ emergencyId: result.emergencyId })).map((d) => [d.channelName, d.status]),
    );
    assert.deepEqual(statuses, { desk: "pending", backup: "cancelled" });
    await runJobsUntil(start + 3_600_000);
    assert.deepEqual(
      drivers.sent.map((s) => s.target.id),
      [desk.id, backup.id, desk.id],
      "the first tier's retry still went out; the escalation's did not",
    );
  });

  it("a row claimed by a dead owner is taken over after its lease and sent (at least once, never lost)", async () => {
    const desk = await channel("desk");
    await policy({ tiers: [tier([desk.id])] });
    // The raising process stores the emergency (rows leased to it) and dies before sending anything.
    const crashed = createEmergencyRaiser({
      emergencies,
      policies,
      channels,
      templates: new AlertTemplateStore(database.db),
      orgs,
      dispatch: async () => {},
      events: sink,
      clock,
      owner: "crashed",
      leaseMs: LEASE,
      publicUrl: PUBLIC_URL,
    });
    const start = clock.now();
    const result = await crashed.raise(orgId, { value: anEmergency(), ruleId: "default" });
    assert.equal(drivers.sent.length, 0);
    // Another instance runs its jobs: nothing before the lease ends, the alert right after.
    const survivor = wire("relay-2");
    worker = survivor.worker;
    scheduler = survivor.scheduler;
    await runJobsUntil(start + LEASE - 1);
    assert.equal(drivers.sent.length, 0);
    await runJobsUntil(start + LEASE);
    assert.equal(drivers.sent.length, 1);
    const [row] = await outbox.list({ emergencyId: result.emergencyId });
    assert.deepEqual([row?.status, row?.attempts], ["delivered", 2], "the lost attempt is counted");
  });

  it("start-up recovery gives every pending row its job back", async () => {
    const desk = await channel("desk");
    await policy({ tiers: [tier([desk.id])] });
    drivers.script.set(desk.id, [{ outcome: "retry", status: 503, retryAfterMs: null, detail: "HTTP 503" }]);
    const result = await raise();
    const [row] = await outbox.list({ emergencyId: result.emergencyId });
    for (const job of await jobs.list()) await jobs.unschedule(job.dedupeKey!);
    await worker.recover();
    assert.ok((await jobs.list()).some((j) => j.dedupeKey === `${JOB_ALERT_DELIVER}:${row!.id}`));
    await runJobsUntil(clock.now() + 10_000);
    assert.equal((await outbox.get(row!.id))?.status, "delivered");
  });

  it("operational events: warnings and worse reach the operations policy, once per kind and hour", async () => {
    const ops = await channel("ops");
    await policy({ name: "Ops", kind: "operations", callType: "any", tiers: [tier([ops.id])] });
    const r = router();
    const event = (kind: string, severity: "info" | "warning" | "critical") =>
      events.append({ orgId, kind, severity, message: `${kind} happened` });
    assert.deepEqual(await r.route(await event("connected", "info")), { routed: 0, skipped: "severity" });
    assert.deepEqual(await r.route(await event("reauth_required", "critical")), { routed: 1 });
    assert.deepEqual(await r.route(await event("reauth_required", "critical")), {
      routed: 0,
      skipped: "throttled",
    });
    assert.deepEqual(await r.route(await event("secret_expiring", "warning")), { routed: 1 });
    clock.advance(3_600_000);
    assert.deepEqual(await r.route(await event("reauth_required", "critical")), { routed: 1 });
    const global = await events.append({ orgId: null, kind: "x", severity: "critical", message: "m" });
    assert.deepEqual(await r.route(global), { routed: 0, skipped: "no org" });
    await worker.idle();
    assert.deepEqual(
      drivers.to(ops.id).map((m) => [m.kind, m.severity]),
      [
        ["operational", "critical"],
        ["operational", "warning"],
        ["operational", "critical"],
      ],
    );
    assert.match(drivers.to(ops.id)[0]!.text, /^reauth_required happened/);
  });
});
