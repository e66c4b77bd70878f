import assert from "node:assert/strict";
import { it } from "node:test";
import { LeaseStore } from "../../src/storage/lease-store.ts";
import { forEachEngine, openTestDatabase } from "../helpers/databases.ts";

const T0 = Date.parse("2026-11-27T09:00:00.000Z");
const TTL = 60_000;

forEachEngine("LeaseStore", (engine) => {
  async function open(t: { after(fn: () => Promise<void>): void }) {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    return { database, leases: new LeaseStore(database.db) };
  }

  it("is exclusive: a live lease refuses other owners", async (t) => {
    const { leases } = await open(t);
    assert.equal(await leases.tryAcquire("token:org-1", "a", TTL, T0), true);
    assert.equal(await leases.tryAcquire("token:org-1", "b", TTL, T0 + 1), false);
    assert.equal(await leases.tryAcquire("token:org-1", "b", TTL, T0 + TTL - 1), false);
    assert.deepEqual(await leases.holder("token:org-1", T0 + 1), { owner: "a", expiresAt: T0 + TTL });
    // Other names are independent.
    assert.equal(await leases.tryAcquire("token:org-2", "b", TTL, T0), true);
  });

  it("is exclusive under concurrency: of many simultaneous claims exactly one wins", async (t) => {
    const { leases } = await open(t);
    for (let round = 0; round < 5; round++) {
      const now = T0 + round * 2 * TTL; // every round starts after the previous lease expired
      const owners = Array.from({ length: 8 }, (_, i) => `owner-${round}-${i}`);
      const results = await Promise.all(owners.map((o) => leases.tryAcquire("token:org-1", o, TTL, now)));
      assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results.join(",")}`);
      const winner = owners[results.indexOf(true)]!;
      assert.equal((await leases.holder("token:org-1", now))?.owner, winner);
    }
  });

  it("lets another owner take over an expired lease", async (t) => {
    const { leases } = await open(t);
    assert.equal(await leases.tryAcquire("token:org-1", "a", TTL, T0), true);
    assert.equal(await leases.holder("token:org-1", T0 + TTL), undefined);
    assert.equal(await leases.tryAcquire("token:org-1", "b", TTL, T0 + TTL), true);
    assert.deepEqual(await leases.holder("token:org-1", T0 + TTL), { owner: "b", expiresAt: T0 + 2 * TTL });
    // The old owner lost it: it can neither renew nor release it.
    assert.equal(await leases.renew("token:org-1", "a", TTL, T0 + TTL + 1), false);
    assert.equal(await leases.release("token:org-1", "a"), false);
    assert.equal((await leases.holder("token:org-1", T0 + TTL + 1))?.owner, "b");
  });

  it("lets the owner re-acquire (extending it) and renew its live lease", async (t) => {
    const { leases } = await open(t);
    assert.equal(await leases.tryAcquire("token:org-1", "a", TTL, T0), true);
    assert.equal(await leases.tryAcquire("token:org-1", "a", TTL, T0 + 30_000), true);
    assert.equal((await leases.holder("token:org-1", T0))?.expiresAt, T0 + 30_000 + TTL);
    assert.equal(await leases.renew("token:org-1", "a", TTL, T0 + 40_000), true);
    assert.equal((await leases.holder("token:org-1", T0))?.expiresAt, T0 + 40_000 + TTL);
    // Renewing a lease that already lapsed fails: the owner must re-acquire it.
    assert.equal(await leases.renew("token:org-1", "a", TTL, T0 + 40_000 + TTL), false);
    assert.equal(await leases.renew("token:org-1", "b", TTL, T0 + 41_000), false);
  });

  it("is released only by its owner, and is free afterwards", async (t) => {
    const { leases } = await open(t);
    assert.equal(await leases.tryAcquire("token:org-1", "a", TTL, T0), true);
    assert.equal(await leases.release("token:org-1", "b"), false);
    assert.equal(await leases.tryAcquire("token:org-1", "b", TTL, T0 + 1), false);
    assert.equal(await leases.release("token:org-1", "a"), true);
    assert.equal(await leases.release("token:org-1", "a"), false);
    assert.equal(await leases.tryAcquire("token:org-1", "b", TTL, T0 + 2), true);
  });

  it("rejects a nonsense ttl", async (t) => {
    const { leases } = await open(t);
    await assert.rejects(leases.tryAcquire("x", "a", 0, T0), RangeError);
    await assert.rejects(leases.renew("x", "a", -1, T0), RangeError);
  });
});
