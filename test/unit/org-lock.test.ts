import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RelayError } from "../../src/core/errors.ts";
import { createOrgLock, LockUnavailableError, type LeaseBackend } from "../../src/flows/org-lock.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

/** The lease table's semantics in memory, with every call recorded. */
class MemoryLeases implements LeaseBackend {
  readonly rows = new Map<string, { owner: string; expiresAt: number }>();
  readonly calls: string[] = [];
  failRelease = false;

  async tryAcquire(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    await Promise.resolve();
    this.calls.push(`acquire ${name} ${owner}`);
    const row = this.rows.get(name);
    if (row && row.expiresAt > now && row.owner !== owner) return false;
    this.rows.set(name, { owner, expiresAt: now + ttlMs });
    return true;
  }

  async release(name: string, owner: string): Promise<boolean> {
    await Promise.resolve();
    this.calls.push(`release ${name} ${owner}`);
    if (this.failRelease) throw new Error("database unavailable");
    if (this.rows.get(name)?.owner !== owner) return false;
    this.rows.delete(name);
    return true;
  }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: { owner?: string; leases?: MemoryLeases; clock?: FakeClock; waitMs?: number } = {}) {
  const leases = options.leases ?? new MemoryLeases();
  const clock = options.clock ?? new FakeClock();
  const sleeps: number[] = [];
  const lock = createOrgLock({
    leases,
    clock,
    owner: options.owner ?? "instance-a",
    sleep: async (ms) => {
      sleeps.push(ms);
      await tick();
    },
    leaseMs: 60_000,
    waitMs: options.waitMs ?? 2_000,
    retryIntervalMs: 250,
  });
  return { lock, leases, clock, sleeps };
}

/** A task that records when it runs and finishes only when told. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe("createOrgLock", () => {
  it("two concurrent withLock calls on one name never overlap, and run in order", async () => {
    const { lock, leases } = setup();
    const log: string[] = [];
    let active = 0;
    let maxActive = 0;
    const job = (id: string, steps: number) =>
      lock.withLock("token:org-1", async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        log.push(`start ${id}`);
        assert.equal(leases.rows.get("token:org-1")?.owner, "instance-a", "the lease is held while fn runs");
        for (let i = 0; i < steps; i++) await tick();
        log.push(`end ${id}`);
        active--;
        return id;
      });
    const results = await Promise.all([job("a", 5), job("b", 1), job("c", 3)]);
    assert.deepEqual(results, ["a", "b", "c"]);
    assert.equal(maxActive, 1);
    assert.deepEqual(log, ["start a", "end a", "start b", "end b", "start c", "end c"]);
    assert.equal(leases.rows.size, 0, "released after the last one");
  });

  it("different names run concurrently", async () => {
    const { lock } = setup();
    const first = gate();
    const second = gate();
    const started: string[] = [];
    const a = lock.withLock("token:org-1", async () => {
      started.push("org-1");
      await first.opened;
    });
    const b = lock.withLock("token:org-2", async () => {
      started.push("org-2");
      await second.opened;
    });
    for (let i = 0; i < 10 && started.length < 2; i++) await tick();
    assert.deepEqual(started.sort(), ["org-1", "org-2"], "both run before either finishes");
    second.open();
    first.open();
    await Promise.all([a, b]);
  });

  it("releases the lease and the queue after fn throws, and passes the error on", async () => {
    const { lock, leases } = setup();
    await assert.rejects(
      lock.withLock("token:org-1", async () => {
        throw new Error("refresh failed");
      }),
      /refresh failed/,
    );
    assert.equal(leases.rows.size, 0);
    assert.ok(leases.calls.includes("release token:org-1 instance-a"));
    // The next caller is not stuck behind the failed one.
    assert.equal(await lock.withLock("token:org-1", async () => "next"), "next");
  });

  it("keeps another instance out until the lease is released, polling with the injected sleep", async () => {
    const leases = new MemoryLeases();
    const clock = new FakeClock();
    const a = setup({ owner: "instance-a", leases, clock });
    const b = setup({ owner: "instance-b", leases, clock });
    const hold = gate();
    const order: string[] = [];
    const first = a.lock.withLock("token:org-1", async () => {
      order.push("a runs");
      await hold.opened;
      order.push("a done");
    });
    await tick();
    const second = b.lock.withLock("token:org-1", async () => {
      order.push("b runs");
    });
    for (let i = 0; i < 3; i++) await tick();
    assert.deepEqual(order, ["a runs"]);
    assert.ok(b.sleeps.length >= 1, "b waits by sleeping");
    assert.ok(b.sleeps.every((ms) => ms === 250));
    hold.open();
    await Promise.all([first, second]);
    assert.deepEqual(order, ["a runs", "a done", "b runs"]);
  });

  it("gives up with a clear error after waitMs when another instance keeps the lease", async () => {
    const leases = new MemoryLeases();
    const clock = new FakeClock();
    await leases.tryAcquire("token:org-1", "instance-z", 600_000, clock.now());
    const { lock, sleeps } = setup({ leases, clock, waitMs: 2_000 });
    let ran = false;
    await assert.rejects(
      lock.withLock("token:org-1", async () => {
        ran = true;
      }),
      (error: unknown) =>
        error instanceof LockUnavailableError &&
        error instanceof RelayError &&
        error.code === "ERR_CONFLICT" &&
        error.lockName === "token:org-1" &&
        /token:org-1.*2000 ms/.test(error.message),
    );
    assert.equal(ran, false);
    assert.equal(
      sleeps.reduce((a, b) => a + b, 0),
      2_000,
    );
    assert.equal(sleeps.length, 8, "bounded retries");
    assert.equal(leases.rows.get("token:org-1")?.owner, "instance-z", "the holder keeps its lease");
  });

  it("also gives up by the clock when database round trips are slow", async () => {
    const leases = new MemoryLeases();
    const clock = new FakeClock();
    await leases.tryAcquire("token:org-1", "instance-z", 600_000, clock.now());
    const slow: LeaseBackend = {
      tryAcquire: async (...args) => {
        clock.advance(1_500);
        return leases.tryAcquire(...args);
      },
      release: (...args) => leases.release(...args),
    };
    const lock = createOrgLock({
      leases: slow,
      clock,
      owner: "instance-a",
      sleep: async () => {},
      waitMs: 2_000,
    });
    await assert.rejects(
      lock.withLock("token:org-1", async () => {}),
      LockUnavailableError,
    );
    assert.ok(leases.calls.filter((c) => c.startsWith("acquire")).length <= 3);
  });

  it("takes over a lease that expired (its holder died)", async () => {
    const leases = new MemoryLeases();
    const clock = new FakeClock();
    await leases.tryAcquire("token:org-1", "instance-dead", 60_000, clock.now());
    clock.advance(60_000);
    const { lock } = setup({ leases, clock });
    assert.equal(await lock.withLock("token:org-1", async () => "ran"), "ran");
  });

  it("a failing release does not fail the work; it is reported", async () => {
    const leases = new MemoryLeases();
    const reported: string[] = [];
    const lock = createOrgLock({
      leases,
      clock: new FakeClock(),
      owner: "instance-a",
      sleep: async () => {},
      onReleaseError: (error, name) => reported.push(`${name}: ${(error as Error).message}`),
    });
    leases.failRelease = true;
    assert.equal(await lock.withLock("token:org-1", async () => 42), 42);
    assert.deepEqual(reported, ["token:org-1: database unavailable"]);
  });
});
