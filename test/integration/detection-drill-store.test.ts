import assert from "node:assert/strict";
import { it } from "node:test";
import { DRILL_CAPTURE_RETENTION_MS } from "../../src/core/drill.ts";
import { createMessageDetector } from "../../src/flows/detect-messages.ts";
import { DetectionRuleStore } from "../../src/storage/detection-rule-store.ts";
import { DrillStore } from "../../src/storage/drill-store.ts";
import { forEachEngine, openTestDatabase } from "../helpers/databases.ts";

const T0 = Date.parse("2026-11-27T09:00:00.000Z");
const MINUTE = 60_000;

function chatMessage(id: string, content: string, from = "Adele Vance") {
  return {
    id,
    chatId: "19:drill@thread.v2",
    messageType: "message",
    createdDateTime: new Date(T0).toISOString(),
    from: { user: { id: "caller-id", displayName: from } },
    body: { contentType: "html", content },
  };
}

forEachEngine("DrillStore and the message detector", (engine) => {
  async function open(t: { after(fn: () => Promise<void>): void }) {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    for (const id of ["org-1", "org-2"])
      await database.db.insertInto("orgs").values({ id, name: id, created_at: 0, updated_at: 0 }).execute();
    const drills = new DrillStore(database.db);
    const rules = new DetectionRuleStore(database.db);
    const errors: string[] = [];
    const detector = createMessageDetector({
      rules,
      drills,
      onError: (stage, orgId) => errors.push(`${stage}:${orgId}`),
    });
    return { database, drills, rules, detector, errors };
  }

  it("one running drill per org; it runs until its end or until ended", async (t) => {
    const { drills } = await open(t);
    const drill = await drills.start("org-1", 15 * MINUTE, T0);
    assert.match(drill.id, /^drill_[0-9a-z]{21}$/);
    await assert.rejects(drills.start("org-1", MINUTE, T0 + MINUTE), { code: "ERR_CONFLICT" });
    // Another org is independent.
    await drills.start("org-2", MINUTE, T0);
    assert.equal((await drills.runningDrill("org-1", T0 + 14 * MINUTE))?.id, drill.id);
    assert.equal(await drills.runningDrill("org-1", T0 + 15 * MINUTE), undefined, "over at endsAt");
    assert.equal(await drills.runningDrill("org-1", T0 - 1), undefined, "not before it started");

    const ended = await drills.end("org-1", drill.id, T0 + 5 * MINUTE);
    assert.equal(ended?.endedAt, T0 + 5 * MINUTE);
    assert.equal(await drills.runningDrill("org-1", T0 + 5 * MINUTE), undefined);
    // Ending again changes nothing; an unknown or foreign drill is undefined.
    assert.equal((await drills.end("org-1", drill.id, T0 + 6 * MINUTE))?.endedAt, T0 + 5 * MINUTE);
    assert.equal(await drills.end("org-2", drill.id, T0), undefined);
    // A new one may start now.
    const next = await drills.start("org-1", MINUTE, T0 + 6 * MINUTE);
    assert.deepEqual(
      (await drills.list("org-1")).map((d) => d.id),
      [next.id, drill.id],
    );
  });

  it("the detector keeps messages only while a drill runs, once each, emergencies and ordinary ones", async (t) => {
    const { drills, detector, errors } = await open(t);
    const before = await detector.detect("org-1", chatMessage("1", "<p>before the drill</p>"), T0 - 1);
    assert.equal(before.emergency, false);
    const drill = await drills.start("org-1", 15 * MINUTE, T0);

    const call = chatMessage("2", "<p>Adele Vance has placed an Emergency Call</p><p>Dialed: 933</p>");
    const result = await detector.detect("org-1", call, T0 + MINUTE);
    assert.ok(result.emergency && result.value.isTest);
    await detector.detect("org-1", chatMessage("3", "<p>lunch?</p>"), T0 + 2 * MINUTE);
    // The same message again (a duplicate hand-off) is kept once.
    await detector.detect("org-1", chatMessage("3", "<p>lunch?</p>"), T0 + 3 * MINUTE);
    // Another org's message is not this drill's.
    await detector.detect("org-2", chatMessage("4", "<p>other org</p>"), T0 + 2 * MINUTE);
    await drills.end("org-1", drill.id, T0 + 4 * MINUTE);
    await detector.detect("org-1", chatMessage("5", "<p>after the drill</p>"), T0 + 5 * MINUTE);

    const captures = await drills.listCaptures(drill.id);
    assert.deepEqual(
      captures.map((c) => c.messageId),
      ["2", "3"],
    );
    assert.deepEqual(captures[0]!.message, call);
    assert.equal(captures[0]!.result.emergency, true);
    assert.equal(captures[1]!.result.emergency, false);
    assert.equal((await drills.getCapture(drill.id, captures[1]!.id))?.messageId, "3");
    assert.equal((await drills.list("org-1"))[0]!.captureCount, 2);
    assert.deepEqual(errors, []);
  });

  it("captures go after the retention time; the drill stays, marked purged", async (t) => {
    const { drills, database } = await open(t);
    const old = await drills.start("org-1", 15 * MINUTE, T0);
    await drills.addCapture({
      drillId: old.id,
      orgId: "org-1",
      chatId: "c",
      messageId: "1",
      capturedAt: T0 + MINUTE,
      message: { id: "1" },
      result: { emergency: false, reason: "x" },
    });
    await drills.end("org-1", old.id, T0 + 2 * MINUTE);
    const recent = await drills.start("org-1", 15 * MINUTE, T0 + 3 * DRILL_CAPTURE_RETENTION_MS);
    await drills.addCapture({
      drillId: recent.id,
      orgId: "org-1",
      chatId: "c",
      messageId: "2",
      capturedAt: recent.startedAt + 1,
      message: { id: "2" },
      result: { emergency: false, reason: "x" },
    });
    const now = recent.startedAt + 2;
    // Ended 2 minutes in: one minute short of the retention time nothing goes.
    assert.equal(await drills.purgeCapturesEndedBefore(T0 + MINUTE, now), 0);
    assert.equal(await drills.purgeCapturesEndedBefore(now - DRILL_CAPTURE_RETENTION_MS, now), 1);
    assert.equal(await drills.purgeCapturesEndedBefore(now - DRILL_CAPTURE_RETENTION_MS, now), 0);
    assert.deepEqual(await drills.listCaptures(old.id), []);
    assert.equal((await drills.get("org-1", old.id))?.capturesPurgedAt, now);
    assert.equal((await drills.listCaptures(recent.id)).length, 1);
    const left = await database.db.selectFrom("drill_captures").select("message_id").execute();
    assert.deepEqual(
      left.map((r) => r.message_id),
      ["2"],
    );
  });

  it("rules that cannot be read: the default rule still alerts; otherwise the hand-off fails to be retried", async (t) => {
    const { drills } = await open(t);
    const failing = createMessageDetector({
      rules: { listForOrg: async () => Promise.reject(new Error("database is down")) },
      drills,
    });
    const call = await failing.detect(
      "org-1",
      chatMessage("1", "<p>Adele Vance has placed an Emergency Call</p>"),
      T0,
    );
    assert.equal(call.emergency, true);
    await assert.rejects(
      failing.detect("org-1", chatMessage("2", "<p>Notruf von Adele Vance</p>"), T0),
      /database is down/,
    );
  });

  it("a drill capture that cannot be stored never holds up detection", async (t) => {
    const { drills, rules } = await open(t);
    const stages: string[] = [];
    const detector = createMessageDetector({
      rules,
      drills: {
        runningDrill: (orgId, now) => drills.runningDrill(orgId, now),
        addCapture: async () => Promise.reject(new Error("disk full")),
      },
      onError: (stage) => stages.push(stage),
    });
    await drills.start("org-1", MINUTE, T0);
    const result = await detector.detect(
      "org-1",
      chatMessage("1", "<p>Adele Vance has placed an Emergency Call</p>"),
      T0 + 1,
    );
    assert.equal(result.emergency, true);
    assert.deepEqual(stages, ["drill_capture"]);
  });

  it("org rules run after the default rule", async (t) => {
    const { rules, detector } = await open(t);
    await rules.create("org-1", { name: "DE", kind: "phrase", value: "Notruf von", marksTest: true }, T0);
    const result = await detector.detect("org-1", chatMessage("1", "<p>Notruf von Adele Vance</p>"), T0);
    assert.ok(result.emergency);
    assert.equal(result.value.isTest, true);
    const other = await detector.detect("org-2", chatMessage("2", "<p>Notruf von Adele Vance</p>"), T0);
    assert.equal(other.emergency, false, "another org's rules do not apply");
  });
});
