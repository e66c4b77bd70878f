import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import type { NewTimelineEvent } from "../../src/core/emergency-record.ts";
import { createInProcessEmergencyFeed } from "../../src/flows/in-process-emergency-feed.ts";
import { createEmergencyChangePoller } from "../../src/flows/poll-emergency-changes.ts";
import { EmergencyStore } from "../../src/storage/emergency-store.ts";
import { openDatabase, type OpenedDatabase } from "../../src/storage/open-database.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { anEmergencyRecord } from "../helpers/alert-fixtures.ts";
import { forEachEngine, openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

// The board's feed across instances: every change to an emergency writes a timeline event, and the change
// poller finds the ones another instance wrote by a time-sorted id range, on both engines.

const box = createSecretBox(Buffer.alloc(32, 3));

forEachEngine("emergency changes for the live board", (engine) => {
  let database: TestDatabase;
  let second: OpenedDatabase;
  const clock = new FakeClock("2026-11-27T09:00:00Z");
  let orgId: string;
  // Two instances: each its own connection (pool) and store; only `mine` publishes to this feed.
  let mine: EmergencyStore;
  let theirs: EmergencyStore;
  const published: string[] = [];
  const feed = createInProcessEmergencyFeed();
  feed.subscribe((id) => published.push(id));

  before(async () => {
    database = await openTestDatabase(engine);
    second = await openDatabase(
      engine === "sqlite"
        ? { engine, file: database.location }
        : { engine, url: database.location, poolMax: 2 },
    );
    orgId = (await new OrgStore(database.db, box, clock).create({ name: "Contoso" })).id;
    mine = new EmergencyStore(database.db, engine, box, { onChanged: (id) => feed.publish(id) });
    theirs = new EmergencyStore(second.db, engine, box);
  });
  after(async () => {
    await second?.close();
    await database?.close();
  });

  async function raiseWith(store: EmergencyStore, at = clock.now()) {
    const record = anEmergencyRecord(orgId, at);
    await store.raise({
      record,
      timeline: [{ emergencyId: record.id, at, kind: "detected", message: "call", details: null }],
      ackTokens: [],
      deliveries: [],
      jobs: {},
    });
    return record.id;
  }

  const note = (emergencyId: string, at = clock.now()): NewTimelineEvent => ({
    emergencyId,
    at,
    kind: "note",
    message: "note",
    details: null,
  });

  it("stores announce their own committed changes (raise, notes, acknowledgement)", async () => {
    published.length = 0;
    const id = await raiseWith(mine);
    await mine.addTimeline([note(id)]);
    await mine.acknowledge({
      id,
      acknowledgement: { at: clock.now(), by: "Alex", via: "web", channelId: null },
      timeline: { emergencyId: id, at: clock.now(), kind: "acknowledged", message: "ack", details: null },
      cancelledEvent: () => note(id),
      jobsToRemove: () => [],
    });
    // Acknowledging again changes nothing, and says nothing.
    await mine.acknowledge({
      id,
      acknowledgement: { at: clock.now(), by: "Blake", via: "web", channelId: null },
      timeline: { emergencyId: id, at: clock.now(), kind: "acknowledged", message: "ack", details: null },
      cancelledEvent: () => note(id),
      jobsToRemove: () => [],
    });
    assert.deepEqual(published, [id, id, id]);
  });

  it("lists changes since a moment by id, paging on, and skips older ones", async () => {
    clock.advance(60_000);
    const from = clock.now();
    const old = await raiseWith(theirs, from - 1);
    const a = await raiseWith(theirs, from);
    const b = await raiseWith(theirs, from + 5);
    await theirs.addTimeline([note(a, from + 10)]);
    const all = await mine.changesSince(from, undefined, 10);
    assert.deepEqual(
      all.map((c) => c.emergencyId),
      [a, b, a],
    );
    assert.ok(!all.some((c) => c.emergencyId === old));
    const firstPage = await mine.changesSince(from, undefined, 2);
    const rest = await mine.changesSince(from, firstPage[1]!.id, 2);
    assert.deepEqual([...firstPage, ...rest], all);
  });

  it("the poller publishes what another instance wrote, once, including late commits within its look-back", async () => {
    const poller = createEmergencyChangePoller({ source: mine, feed, clock, lookBackMs: 30_000 });
    assert.equal(await poller.pollOnce(), 0, "the first poll learns what exists");
    published.length = 0;
    clock.advance(1000);
    const fresh = await raiseWith(theirs);
    // Stamped 20 s ago but committed only now (a slow transaction, a clock a little behind).
    const late = await raiseWith(theirs, clock.now() - 20_000);
    assert.equal(await poller.pollOnce(), 2);
    assert.deepEqual(published.sort(), [fresh, late].sort());
    assert.equal(await poller.pollOnce(), 0, "nothing twice");
    await theirs.addTimeline([note(fresh)]);
    assert.equal(await poller.pollOnce(), 1);
    assert.equal(published.at(-1), fresh);
  });

  it("polls on its own every interval until stopped", async () => {
    const poller = createEmergencyChangePoller({ source: mine, feed, clock, intervalMs: 20 });
    await poller.pollOnce();
    published.length = 0;
    poller.start();
    try {
      const id = await raiseWith(theirs);
      const deadline = Date.now() + 2000;
      while (!published.includes(id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(published.includes(id), "published by the interval poll");
    } finally {
      await poller.stop();
    }
  });
});
