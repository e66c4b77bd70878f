// The job scheduler against real SQLite and PostgreSQL: each due job runs once however many schedulers claim at
// the same time, a dead owner's claim comes back after its lease, a live owner keeps a slow job by extending its
// claim, and stopping hands unstarted jobs back at once.
import assert from "node:assert/strict";
import { it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../src/core/clock.ts";
import { createJobScheduler, type JobHandler } from "../../src/jobs/job-scheduler.ts";
import { JobStore } from "../../src/storage/job-store.ts";
import { openDatabase } from "../../src/storage/open-database.ts";
import { forEachEngine, openTestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

forEachEngine("job scheduler", (engine) => {
  async function open(t: { after(fn: () => Promise<void>): void }) {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    return database;
  }
  /** Another handle on the same data: on PostgreSQL its own pool, as another instance would have. */
  async function secondHandle(t: { after(fn: () => Promise<void>): void }, location: string) {
    const other = await openDatabase(
      engine === "sqlite" ? { engine, file: location } : { engine, url: location, poolMax: 4 },
    );
    t.after(() => other.close());
    return new JobStore(other.db, engine);
  }
  const failOnError = (_job: unknown, error: unknown) => assert.fail(String(error));

  it("runs each of 300 due jobs once when three schedulers claim at the same time", async (t) => {
    const database = await open(t);
    const clock = new FakeClock();
    const stores = [
      new JobStore(database.db, engine),
      await secondHandle(t, database.location),
      await secondHandle(t, database.location),
    ];
    for (let i = 0; i < 300; i++)
      await stores[0]!.schedule({ kind: "work", dedupeKey: `work:${i}`, runAt: clock.now() }, clock.now());
    const runs = new Map<string, string[]>();
    const schedulers = stores.map((store, n) =>
      createJobScheduler({
        store,
        clock,
        owner: `instance-${n}`,
        onError: failOnError,
        handlers: {
          work: async (job) => {
            runs.set(job.dedupeKey!, [...(runs.get(job.dedupeKey!) ?? []), `instance-${n}`]);
          },
        },
      }),
    );
    const ran = await Promise.all(schedulers.map((s) => s.runDue()));
    assert.equal(
      ran.reduce((a, b) => a + b, 0),
      300,
    );
    assert.equal(runs.size, 300);
    for (const [key, by] of runs) assert.equal(by.length, 1, `${key} ran on ${by.join(", ")}`);
    if (engine === "postgres") assert.ok(ran.filter((n) => n > 0).length >= 2, `shared: ${ran.join(", ")}`);
    assert.deepEqual(await stores[0]!.list(), []);
  });

  it("gives a dead owner's claim to another scheduler once its lease ran out, not before", async (t) => {
    const database = await open(t);
    const clock = new FakeClock();
    const store = new JobStore(database.db, engine);
    await store.schedule({ kind: "work", dedupeKey: "work:1", runAt: clock.now() }, clock.now());
    // Claimed by an instance that then died (never completed, never extended).
    assert.equal((await store.claimDue("dead", clock.now(), 60_000, 5)).length, 1);
    let runs = 0;
    const survivor = createJobScheduler({
      store,
      clock,
      owner: "survivor",
      leaseMs: 60_000,
      onError: failOnError,
      handlers: { work: async () => void (runs += 1) },
    });
    clock.advance(59_999);
    assert.equal(await survivor.runDue(), 0);
    clock.advance(1);
    assert.equal(await survivor.runDue(), 1);
    assert.equal(runs, 1);
  });

  it("keeps a slow job with its live owner by extending the claim", async (t) => {
    const database = await open(t);
    const store = new JobStore(database.db, engine);
    const other = await secondHandle(t, database.location);
    await store.schedule({ kind: "slow", dedupeKey: "slow:1", runAt: Date.now() }, Date.now());
    const runs: string[] = [];
    const scheduler = (owner: string, jobs: JobStore) =>
      createJobScheduler({
        store: jobs,
        clock: systemClock,
        owner,
        // Real time: the heartbeat runs on a timer every third of the lease.
        leaseMs: 300,
        onError: failOnError,
        handlers: {
          slow: async () => {
            runs.push(owner);
            await sleep(1200);
          },
        },
      });
    const holder = scheduler("holder", store);
    const rival = scheduler("rival", other);
    const holding = holder.runDue();
    // Four lease lengths: without the extension the rival would take the job over.
    for (let i = 0; i < 10; i++) {
      await sleep(100);
      assert.equal(await rival.runDue(), 0);
    }
    assert.equal(await holding, 1);
    assert.deepEqual(runs, ["holder"]);
  });

  it("hands unstarted jobs back when stopped, so another instance runs them at once", async (t) => {
    const database = await open(t);
    const clock = new FakeClock();
    const store = new JobStore(database.db, engine);
    for (let i = 0; i < 5; i++)
      await store.schedule({ kind: "work", dedupeKey: `work:${i}`, runAt: clock.now() }, clock.now());
    let started!: () => void;
    const firstStarted = new Promise<void>((resolve) => (started = resolve));
    let finishFirst!: () => void;
    const firstMayFinish = new Promise<void>((resolve) => (finishFirst = resolve));
    const ranBy: string[] = [];
    const handlers = (owner: string): Record<string, JobHandler> => ({
      work: async () => {
        ranBy.push(owner);
        if (ranBy.length === 1) {
          started();
          await firstMayFinish;
        }
      },
    });
    const leaving = createJobScheduler({
      store,
      clock,
      owner: "leaving",
      onError: failOnError,
      handlers: handlers("leaving"),
    });
    const passing = leaving.runDue();
    await firstStarted;
    const stopped = leaving.stop();
    finishFirst();
    await stopped;
    assert.equal(await passing, 1, "the job in hand finished");
    // The clock has not moved: the other four are due now, not after a lease.
    const staying = createJobScheduler({
      store,
      clock,
      owner: "staying",
      onError: failOnError,
      handlers: handlers("staying"),
    });
    assert.equal(await staying.runDue(), 4);
    assert.deepEqual(ranBy, ["leaving", "staying", "staying", "staying", "staying"]);
  });

  it("releaseAllOf hands back every claim of one owner and only those", async (t) => {
    const database = await open(t);
    const clock = new FakeClock();
    const store = new JobStore(database.db, engine);
    for (let i = 0; i < 4; i++)
      await store.schedule({ kind: "work", dedupeKey: `work:${i}`, runAt: clock.now() }, clock.now());
    await store.claimDue("a", clock.now(), 60_000, 3);
    await store.claimDue("b", clock.now(), 60_000, 3);
    assert.equal(await store.releaseAllOf("a"), 3);
    assert.equal((await store.claimDue("c", clock.now(), 60_000, 10)).length, 3);
  });
});
