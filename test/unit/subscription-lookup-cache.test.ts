import assert from "node:assert/strict";
import { test } from "node:test";
import type { KnownSubscription } from "../../src/core/intake-ports.ts";
import { cacheSubscriptionLookup } from "../../src/core/subscription-lookup-cache.ts";

function backing() {
  const rows = new Map<string, KnownSubscription>();
  let queries = 0;
  return {
    rows,
    queries: () => queries,
    async find(id: string) {
      queries += 1;
      return rows.get(id);
    },
  };
}

const sub = (id: string): KnownSubscription => ({
  id,
  orgId: "org_1",
  clientState: `state-${id}`,
  includeResourceData: true,
});

test("a found subscription is served from memory until its time is up, then read again", async () => {
  let now = 0;
  const store = backing();
  store.rows.set("a", sub("a"));
  const cached = cacheSubscriptionLookup(store, { now: () => now, ttlMs: 1_000 });
  assert.deepEqual(await cached.find("a"), sub("a"));
  now = 999;
  assert.deepEqual(await cached.find("a"), sub("a"));
  assert.equal(store.queries(), 1);
  store.rows.delete("a");
  now = 1_000;
  assert.equal(await cached.find("a"), undefined, "removed: gone once the entry expired");
  assert.equal(store.queries(), 2);
});

test("an unknown id is asked for every time, so a new subscription is found at once", async () => {
  const store = backing();
  const cached = cacheSubscriptionLookup(store, { now: () => 0 });
  assert.equal(await cached.find("new"), undefined);
  store.rows.set("new", sub("new"));
  assert.deepEqual(await cached.find("new"), sub("new"));
  assert.equal(store.queries(), 2);
});

test("holds at most maxEntries, dropping the oldest", async () => {
  const store = backing();
  for (const id of ["a", "b", "c"]) store.rows.set(id, sub(id));
  const cached = cacheSubscriptionLookup(store, { now: () => 0, maxEntries: 2 });
  await cached.find("a");
  await cached.find("b");
  await cached.find("c");
  assert.equal(store.queries(), 3);
  await cached.find("c");
  await cached.find("b");
  assert.equal(store.queries(), 3, "b and c still cached");
  await cached.find("a");
  assert.equal(store.queries(), 4, "a was dropped");
});
