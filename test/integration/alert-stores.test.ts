import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { AlertChannelStore } from "../../src/storage/alert-channel-store.ts";
import { AlertOutboxStore } from "../../src/storage/alert-outbox-store.ts";
import { AlertPolicyStore, type PolicyFields } from "../../src/storage/alert-policy-store.ts";
import { AlertTemplateStore } from "../../src/storage/alert-template-store.ts";
import { AlertThrottleStore } from "../../src/storage/alert-throttle-store.ts";
import { EmergencyStore } from "../../src/storage/emergency-store.ts";
import { JobStore } from "../../src/storage/job-store.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { aDelivery, anEmergencyRecord, uniqueId } from "../helpers/alert-fixtures.ts";
import { forEachEngine, openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

const LEASE = 60_000;
const box = createSecretBox(Buffer.alloc(32, 7));

forEachEngine("alert stores", (engine) => {
  let database: TestDatabase;
  let orgId: string;
  let channels: AlertChannelStore;
  let policies: AlertPolicyStore;
  let templates: AlertTemplateStore;
  let throttle: AlertThrottleStore;
  let emergencies: EmergencyStore;
  let outbox: AlertOutboxStore;
  let jobs: JobStore;
  const clock = new FakeClock();

  before(async () => {
    database = await openTestDatabase(engine);
    const { db } = database;
    orgId = (await new OrgStore(db, box, clock).create({ name: "Contoso" })).id;
    channels = new AlertChannelStore(db, box);
    policies = new AlertPolicyStore(db);
    templates = new AlertTemplateStore(db);
    throttle = new AlertThrottleStore(db);
    emergencies = new EmergencyStore(db, engine, box);
    outbox = new AlertOutboxStore(db, engine, box);
    jobs = new JobStore(db, engine);
  });
  after(() => database.close());

  describe("channels", () => {
    it("seals secrets bound to the row and never returns them from plain reads", async () => {
      const created = await channels.create(
        {
          orgId,
          type: "webhook",
          name: "Desk hook",
          enabled: true,
          settings: { url: "https://hooks.example.com/a" },
          secrets: { signingSecret: "whsec_super-secret-value" },
        },
        clock.now(),
      );
      assert.match(created.id, /^ch_[0-9a-f]{16}$/);
      assert.equal(JSON.stringify(created).includes("super-secret"), false);
      const raw = await database.db
        .selectFrom("alert_channels")
        .selectAll()
        .where("id", "=", created.id)
        .executeTakeFirstOrThrow();
      assert.equal(JSON.stringify(raw).includes("super-secret"), false, "sealed at rest");
      const opened = await channels.withSecrets(created.id);
      assert.deepEqual(opened?.target.secrets, { signingSecret: "whsec_super-secret-value" });

      // The envelope copied into another channel's row does not open there.
      const other = await channels.create(
        {
          orgId,
          type: "webhook",
          name: "Other",
          enabled: true,
          settings: {},
          secrets: { signingSecret: "x" },
        },
        clock.now(),
      );
      await database.db
        .updateTable("alert_channels")
        .set({ secrets_ciphertext: raw.secrets_ciphertext })
        .where("id", "=", other.id)
        .execute();
      await assert.rejects(channels.withSecrets(other.id), { code: "ERR_SECRET_UNREADABLE" });
    });

    it("updates, disables (410) and re-enables, lists per org, deletes", async () => {
      const c = await channels.create(
        { orgId, type: "slack", name: "Slack", enabled: true, settings: { a: 1 }, secrets: {} },
        clock.now(),
      );
      assert.equal(await channels.disable(c.id, "410 Gone", clock.now()), true);
      assert.equal(await channels.disable(c.id, "410 Gone", clock.now()), false, "already disabled");
      const disabled = await channels.get(orgId, c.id);
      assert.equal(disabled?.enabled, false);
      assert.equal(disabled?.disabledReason, "410 Gone");
      const enabled = await channels.update(orgId, c.id, { enabled: true, name: "Slack #desk" }, clock.now());
      assert.equal(enabled?.enabled, true);
      assert.equal(enabled?.disabledReason, null);
      assert.equal(enabled?.name, "Slack #desk");
      assert.equal(await channels.update("org_other", c.id, { name: "x" }, clock.now()), undefined);
      assert.ok((await channels.list(orgId)).some((x) => x.id === c.id));
      assert.equal(await channels.delete(orgId, c.id), true);
      assert.equal(await channels.get(orgId, c.id), undefined);
    });
  });

  it("policies: create, list by priority, replace, delete", async () => {
    const fields = (name: string, priority: number): PolicyFields => ({
      name,
      kind: "emergency",
      callType: "real",
      locationMatch: { field: "any", type: "substring", value: "Building 4" },
      priority,
      enabled: true,
      tiers: [{ afterSeconds: 0, channelIds: ["ch_a"], repeat: { everySeconds: 60, times: 2 } }],
      retry: { maxAttempts: 5, windowSeconds: 600 },
    });
    const later = await policies.create(orgId, fields("Later", 20), clock.now());
    const first = await policies.create(orgId, fields("First", 10), clock.now());
    assert.deepEqual(
      (await policies.list(orgId)).map((p) => p.name),
      ["First", "Later"],
    );
    assert.deepEqual(first.tiers, fields("First", 10).tiers);
    const replaced = await policies.replace(
      orgId,
      later.id,
      { ...fields("Renamed", 5), locationMatch: null },
      clock.now(),
    );
    assert.equal(replaced?.name, "Renamed");
    assert.equal(replaced?.locationMatch, null);
    assert.deepEqual(
      (await policies.list(orgId)).map((p) => p.name),
      ["Renamed", "First"],
    );
    assert.equal(await policies.delete(orgId, later.id), true);
    assert.equal(await policies.get(orgId, later.id), undefined);
  });

  it("templates: overrides per kind, put twice replaces, delete returns to the default", async () => {
    await templates.put(orgId, "emergency", { title: "A {{caller}}", text: "x" }, clock.now());
    await templates.put(orgId, "emergency", { title: "B {{caller}}", text: "y" }, clock.now());
    const found = await templates.overrides(orgId);
    assert.equal(found.emergency?.title, "B {{caller}}");
    assert.equal(found.test, undefined);
    assert.equal(await templates.delete(orgId, "emergency"), true);
    assert.equal(await templates.delete(orgId, "emergency"), false);
  });

  it("throttle: one claim per key and window", async () => {
    const key = uniqueId("k");
    const t = clock.now();
    assert.equal(await throttle.claim(key, t, 3_600_000), true);
    assert.equal(await throttle.claim(key, t + 1000, 3_600_000), false);
    assert.equal(await throttle.claim(`${key}-other`, t + 1000, 3_600_000), true);
    assert.equal(await throttle.claim(key, t + 3_600_000, 3_600_000), true);
  });

  describe("emergencies and the outbox", () => {
    it("raises once per message: emergency, timeline, links, claimed deliveries and jobs in one go", async () => {
      const now = clock.now();
      const record = anEmergencyRecord(orgId, now);
      const deliveries = [
        aDelivery(orgId, now, { emergencyId: record.id }),
        aDelivery(orgId, now, { emergencyId: record.id }),
      ];
      const plan = {
        record,
        timeline: [
          { emergencyId: record.id, at: now, kind: "detected" as const, message: "detected", details: null },
        ],
        ackTokens: [{ hash: `hash-${record.id}`, channelId: "ch_test", expiresAt: now + 1000 }],
        deliveries,
        claim: { owner: "me", now, leaseMs: LEASE },
        jobs: {
          schedule: deliveries.map((d) => ({
            kind: "alert.deliver",
            dedupeKey: `alert.deliver:${d.id}`,
            runAt: now + LEASE,
          })),
        },
      };
      const raised = await emergencies.raise(plan);
      assert.equal(raised.created, true);
      assert.equal(raised.created && raised.claimed.length, 2);
      assert.equal(raised.created && raised.claimed[0]!.message.title, deliveries[0]!.message.title);

      // A duplicate (same org, chat, message; new ids) stores nothing and returns the first.
      const again = await emergencies.raise({
        ...plan,
        record: { ...record, id: uniqueId("em") },
        deliveries: [aDelivery(orgId, now)],
        ackTokens: [{ hash: `hash-dup-${record.id}`, channelId: null, expiresAt: now + 1000 }],
      });
      assert.equal(again.created, false);
      assert.equal(again.emergency.id, record.id);
      assert.equal((await outbox.list({ emergencyId: record.id })).length, 2);
      assert.equal(await emergencies.findAckToken(`hash-dup-${record.id}`, now), undefined);

      const stored = await emergencies.get(record.id);
      assert.deepEqual(stored, record);
      assert.deepEqual(
        (await emergencies.timeline(record.id)).map((e) => e.kind),
        ["detected"],
      );
      assert.deepEqual(await emergencies.findAckToken(`hash-${record.id}`, now), {
        emergencyId: record.id,
        channelId: "ch_test",
      });
      assert.equal(await emergencies.findAckToken(`hash-${record.id}`, now + 1000), undefined, "expired");
      const scheduled = (await jobs.list()).filter((j) =>
        deliveries.some((d) => j.dedupeKey === `alert.deliver:${d.id}`),
      );
      assert.equal(scheduled.length, 2);

      // Claimed by the raiser: nobody else gets them before the lease runs out.
      assert.deepEqual(
        (await outbox.claim("other", now, LEASE, 100)).filter((c) => c.emergencyId === record.id),
        [],
      );
      // The message is sealed at rest: the link's token is not readable in the table.
      const raw = await database.db.selectFrom("alert_deliveries").select("message_ciphertext").execute();
      assert.equal(JSON.stringify(raw).includes("secret-token-value"), false);
    });

    it("a dead owner's lease runs out and another worker takes the row over; a lost lease changes nothing", async () => {
      const now = clock.now();
      const d = aDelivery(orgId, now);
      const [claimed] = await outbox.enqueue([d], { owner: "dead", now, leaseMs: LEASE });
      assert.equal(claimed?.attempts, 1);
      assert.deepEqual(
        (await outbox.claim("alive", now + LEASE - 1, LEASE, 100))
          .map((c) => c.id)
          .filter((id) => id === d.id),
        [],
      );
      const taken = (await outbox.claim("alive", now + LEASE, LEASE, 100)).find((c) => c.id === d.id);
      assert.equal(taken?.attempts, 2);
      assert.equal(taken?.message.id, d.id, "the message id stays the delivery id");

      // The dead owner comes back late: its attempt is recorded, the row stays the new owner's.
      const late = await outbox.finish({
        id: d.id,
        owner: "dead",
        now: now + LEASE + 5,
        attempt: {
          attempt: 1,
          startedAt: now,
          latencyMs: 5,
          outcome: "delivered",
          statusCode: 200,
          detail: null,
        },
        decision: { status: "delivered" },
        timeline: [],
        jobs: {},
      });
      assert.equal(late, false);
      assert.equal((await outbox.get(d.id))?.status, "pending");
      const done = await outbox.finish({
        id: d.id,
        owner: "alive",
        now: now + LEASE + 10,
        attempt: {
          attempt: 2,
          startedAt: now + LEASE,
          latencyMs: 10,
          outcome: "delivered",
          statusCode: 204,
          detail: null,
        },
        decision: { status: "delivered" },
        timeline: [],
        jobs: { unschedule: [`alert.deliver:${d.id}`] },
      });
      assert.equal(done, true);
      const row = await outbox.get(d.id);
      assert.equal(row?.status, "delivered");
      assert.equal(row?.firstAttemptAt, now, "the first attempt is the earliest recorded");
      assert.equal(row?.deliveredAt, now + LEASE + 10);
      assert.equal(row?.lastStatusCode, 204);
      assert.deepEqual(
        (await outbox.attempts([d.id])).map((a) => [a.attempt, a.outcome]),
        [
          [1, "delivered"],
          [2, "delivered"],
        ],
      );
    });

    it("retries come due later, dead rows are replayable with a fresh budget, emergencies are claimed first", async () => {
      const now = clock.now() + 10 * LEASE;
      const operational = aDelivery(orgId, now, { priority: 1, purpose: "operational" });
      const urgent = aDelivery(orgId, now + 1, { priority: 0 });
      await outbox.enqueue([operational, urgent]);
      const claimed = (await outbox.claim("w", now + 1, LEASE, 100)).filter(
        (c) => c.id === operational.id || c.id === urgent.id,
      );
      assert.deepEqual(
        claimed.map((c) => c.id),
        [urgent.id, operational.id],
      );
      await outbox.finish({
        id: urgent.id,
        owner: "w",
        now: now + 2,
        attempt: {
          attempt: 1,
          startedAt: now + 1,
          latencyMs: 1,
          outcome: "retry",
          statusCode: 503,
          detail: "HTTP 503",
        },
        decision: { status: "retry", at: now + 30_000 },
        timeline: [],
        jobs: {},
      });
      assert.equal(
        (await outbox.claim("w", now + 29_999, LEASE, 100)).some((c) => c.id === urgent.id),
        false,
      );
      assert.equal(
        (await outbox.claim("w", now + 30_000, LEASE, 100)).some((c) => c.id === urgent.id),
        true,
      );
      await outbox.finish({
        id: urgent.id,
        owner: "w",
        now: now + 30_001,
        attempt: {
          attempt: 2,
          startedAt: now + 30_000,
          latencyMs: 1,
          outcome: "failed",
          statusCode: 400,
          detail: "HTTP 400",
        },
        decision: { status: "dead", reason: "refused" },
        timeline: [],
        jobs: {},
      });
      const dead = await outbox.get(urgent.id);
      assert.equal(dead?.status, "dead");
      assert.equal(dead?.lastDetail, "refused: HTTP 400");
      assert.deepEqual(
        await outbox.list({ status: "dead", orgId }).then((l) => l.some((x) => x.id === urgent.id)),
        true,
      );

      const replayed = await outbox.replay(urgent.id, {
        now: now + 40_000,
        maxAttempts: 3,
        windowMs: 600_000,
        timeline: [],
        jobs: {},
      });
      assert.equal(replayed?.replayed, true);
      assert.equal(replayed?.delivery.status, "pending");
      assert.equal(replayed?.delivery.maxAttempts, 5);
      const twice = await outbox.replay(urgent.id, {
        now: now + 40_000,
        maxAttempts: 3,
        windowMs: 600_000,
        timeline: [],
        jobs: {},
      });
      assert.equal(twice?.replayed, false, "only dead rows replay");
      assert.equal(
        await outbox.replay("dl_unknown", { now, maxAttempts: 1, windowMs: 1, timeline: [], jobs: {} }),
        undefined,
      );
      assert.ok((await outbox.pendingDueTimes()).some((p) => p.id === urgent.id && p.at === now + 40_000));
    });

    it("acknowledgement: first wins, cancels pending escalations and repeats not in flight, removes jobs", async () => {
      const now = clock.now() + 100 * LEASE;
      const record = anEmergencyRecord(orgId, now);
      const initial = aDelivery(orgId, now, { emergencyId: record.id });
      const escalation = aDelivery(orgId, now, {
        emergencyId: record.id,
        purpose: "escalation",
        tier: 1,
        nextAttemptAt: now + 60_000,
      });
      const inFlight = aDelivery(orgId, now, { emergencyId: record.id, purpose: "repeat" });
      const escalationJob = `alert.escalate:${record.id}`;
      await emergencies.raise({
        record,
        timeline: [],
        ackTokens: [],
        deliveries: [initial, escalation],
        jobs: { schedule: [{ kind: "alert.escalate", dedupeKey: escalationJob, runAt: now + 60_000 }] },
      });
      await outbox.enqueue([inFlight], { owner: "sender", now, leaseMs: LEASE });

      const ack = (by: string, at: number) =>
        emergencies.acknowledge({
          id: record.id,
          acknowledgement: { at, by, via: "link", channelId: "ch_test" },
          timeline: { emergencyId: record.id, at, kind: "acknowledged", message: `by ${by}`, details: null },
          cancelledEvent: (n) => ({
            emergencyId: record.id,
            at,
            kind: "cancelled",
            message: `${n}`,
            details: null,
          }),
          jobsToRemove: (ids) => [escalationJob, ...ids.map((id) => `alert.deliver:${id}`)],
        });
      const first = await ack("Alex", now + 1000);
      assert.equal(first?.acknowledged, true);
      assert.deepEqual(first?.cancelled, [escalation.id]);
      assert.equal(first?.emergency.state, "acknowledged");
      const second = await ack("Blake", now + 2000);
      assert.equal(second?.acknowledged, false);
      assert.deepEqual(second?.emergency.acknowledgement, {
        at: now + 1000,
        by: "Alex",
        via: "link",
        channelId: "ch_test",
      });
      const statuses = Object.fromEntries(
        (await outbox.list({ emergencyId: record.id })).map((d) => [d.id, d.status]),
      );
      assert.deepEqual(statuses, {
        [initial.id]: "pending",
        [escalation.id]: "cancelled",
        [inFlight.id]: "pending",
      });
      assert.equal(
        (await jobs.list()).some((j) => j.dedupeKey === escalationJob),
        false,
      );
      assert.deepEqual(
        (await emergencies.timeline(record.id)).map((e) => e.kind),
        ["acknowledged", "cancelled"],
      );
      assert.equal(
        await emergencies.advanceEscalation({
          ackTokens: [],
          id: record.id,
          fromStep: 1,
          toStep: 2,
          deliveries: [],
          timeline: [],
          jobs: {},
          now,
        }),
        undefined,
        "no escalation after acknowledgement",
      );
      assert.equal(
        await emergencies.acknowledge({
          id: "em_unknown",
          acknowledgement: { at: now, by: null, via: "api", channelId: null },
          timeline: { emergencyId: "em_unknown", at: now, kind: "acknowledged", message: "", details: null },
          cancelledEvent: () => {
            throw new Error("unused");
          },
          jobsToRemove: () => [],
        }),
        undefined,
      );
    });

    it("escalation advances once per step, and lists filter by org, time and state", async () => {
      const now = clock.now() + 200 * LEASE;
      const record = anEmergencyRecord(orgId, now, { escalationStep: 1 });
      await emergencies.raise({ record, timeline: [], ackTokens: [], deliveries: [], jobs: {} });
      const tier1 = aDelivery(orgId, now, {
        emergencyId: record.id,
        purpose: "escalation",
        tier: 1,
        step: 1,
      });
      const claimed = await emergencies.advanceEscalation({
        ackTokens: [{ hash: `esc-${record.id}`, channelId: "ch_test", expiresAt: now + 1000 }],
        id: record.id,
        fromStep: 1,
        toStep: 2,
        deliveries: [tier1],
        timeline: [
          { emergencyId: record.id, at: now, kind: "escalated", message: "tier 1", details: { tier: 1 } },
        ],
        claim: { owner: "me", now, leaseMs: LEASE },
        jobs: {},
        now,
      });
      assert.deepEqual(
        claimed?.map((c) => c.id),
        [tier1.id],
      );
      assert.equal(
        await emergencies.advanceEscalation({
          ackTokens: [],
          id: record.id,
          fromStep: 1,
          toStep: 2,
          deliveries: [aDelivery(orgId, now)],
          timeline: [],
          jobs: {},
          now,
        }),
        undefined,
        "a second worker with the same view does nothing",
      );
      assert.equal((await emergencies.get(record.id))?.escalationStep, 2);
      assert.equal((await emergencies.findAckToken(`esc-${record.id}`, now))?.emergencyId, record.id);

      const list = await emergencies.list({ orgId, since: now, until: now + 1, state: "open", limit: 10 });
      assert.deepEqual(
        list.map((e) => e.id),
        [record.id],
      );
      assert.deepEqual(await emergencies.list({ orgId, since: now + 1, limit: 10 }), []);
      assert.deepEqual(await emergencies.list({ orgId: "org_none", limit: 10 }), []);
    });

    it("deleting the org removes its emergencies and deliveries", async () => {
      const other = await new OrgStore(database.db, box, clock).create({ name: "Temp" });
      const record = anEmergencyRecord(other.id, clock.now());
      await emergencies.raise({
        record,
        timeline: [],
        ackTokens: [],
        deliveries: [aDelivery(other.id, clock.now(), { emergencyId: record.id })],
        jobs: {},
      });
      await new OrgStore(database.db, box, clock).delete(other.id);
      assert.equal(await emergencies.get(record.id), undefined);
      const left = await sql<{
        n: number;
      }>`select count(*) as n from alert_deliveries where org_id = ${other.id}`.execute(database.db);
      assert.equal(Number(left.rows[0]?.n), 0);
    });
  });
});
