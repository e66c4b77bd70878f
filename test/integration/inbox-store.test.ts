import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { InboxStore, type NewInboxItem } from "../../src/storage/inbox-store.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { forEachEngine, openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

const LEASE = 60_000;

forEachEngine("inbox store", (engine) => {
  let database: TestDatabase;
  let inbox: InboxStore;
  let orgId: string;
  const clock = new FakeClock();
  let sequence = 0;

  before(async () => {
    database = await openTestDatabase(engine);
    inbox = new InboxStore(database.db, engine);
    orgId = (
      await new OrgStore(database.db, createSecretBox(Buffer.alloc(32, 1)), clock).create({ name: "A" })
    ).id;
  });
  after(() => database.close());

  /** Items unique to this test run, so tests sharing the database do not see each other's. */
  function item(overrides: Partial<NewInboxItem> = {}): NewInboxItem {
    sequence += 1;
    return {
      dedupeKey: `key-${engine}-${sequence}`,
      orgId,
      subscriptionId: `sub-${sequence}`,
      kind: "change",
      item: {
        subscriptionId: `sub-${sequence}`,
        changeType: "created",
        resource: `chats('c')/messages('${sequence}')`,
      },
      validationTokens: ["jwt"],
      ...overrides,
    };
  }

  /** Claims everything due and hands back only the given items (completing nothing else claimed by accident). */
  async function drain(owner: string, now: number) {
    return inbox.claim(owner, now, LEASE, 1000);
  }

  it("stores a batch, skipping duplicates within it and across batches", async () => {
    const a = item();
    const b = item();
    const first = await inbox.enqueue([a, b, { ...a, item: { other: true } }], clock.now());
    assert.deepEqual(first, { stored: 2, duplicates: 1 });
    const second = await inbox.enqueue([b, item({ dedupeKey: a.dedupeKey })], clock.now());
    assert.deepEqual(second, { stored: 0, duplicates: 2 });
    const rows = (await inbox.list()).filter(
      (r) => r.dedupeKey === a.dedupeKey || r.dedupeKey === b.dedupeKey,
    );
    assert.equal(rows.length, 2);
    const stored = rows.find((r) => r.dedupeKey === a.dedupeKey)!;
    assert.deepEqual(stored.item, a.item, "the first copy wins");
    assert.deepEqual(stored.validationTokens, ["jwt"]);
    assert.equal(stored.status, "pending");
    assert.equal(stored.attempts, 0);
    const owner = "cleanup";
    for (const claimed of await drain(owner, clock.now()))
      await inbox.complete(claimed.id, owner, "processed", null, clock.now());
  });

  it("stores each validation token once and gives every item its tokens back; inline tokens of older rows still read", async () => {
    const token = `eyJ.${engine}.${"x".repeat(900)}`;
    const other = `eyJ.${engine}.other`;
    const a = item({ validationTokens: [token] });
    const b = item({ validationTokens: [token, other] });
    const lifecycle = item({ kind: "lifecycle", validationTokens: [] });
    await inbox.enqueue([a], clock.now());
    await inbox.enqueue([b, lifecycle], clock.now());
    const stored = await database.db
      .selectFrom("validation_tokens")
      .select(["token"])
      .where("token", "in", [token, other])
      .execute();
    assert.deepEqual(stored.map((r) => r.token).sort(), [token, other].sort());
    const raw = await database.db
      .selectFrom("inbox")
      .select(["dedupe_key", "payload_json"])
      .where("dedupe_key", "in", [a.dedupeKey, b.dedupeKey])
      .execute();
    for (const row of raw) assert.ok(!row.payload_json.includes(token), "rows reference the token, no copy");
    // A row as written before migration 0008, its tokens inline.
    const legacy = item();
    await database.db
      .insertInto("inbox")
      .values({
        id: `legacy-${engine}`,
        dedupe_key: legacy.dedupeKey,
        org_id: orgId,
        subscription_id: legacy.subscriptionId,
        kind: "change",
        payload_json: JSON.stringify({ item: legacy.item, validationTokens: ["inline-jwt"] }),
        received_at: clock.now(),
        status: "pending",
        attempts: 0,
        next_attempt_at: clock.now(),
      })
      .execute();
    const owner = "tokens";
    const claimed = await drain(owner, clock.now());
    const byKey = new Map(
      (await inbox.list()).map((entry) => [entry.dedupeKey, entry.validationTokens] as const),
    );
    assert.deepEqual(byKey.get(a.dedupeKey), [token]);
    assert.deepEqual(byKey.get(b.dedupeKey), [token, other]);
    assert.deepEqual(byKey.get(lifecycle.dedupeKey), []);
    assert.deepEqual(byKey.get(legacy.dedupeKey), ["inline-jwt"]);
    const claimedTokens = claimed
      .filter((c) => [a.item, b.item, legacy.item].some((i) => JSON.stringify(i) === JSON.stringify(c.item)))
      .map((c) => c.validationTokens);
    assert.deepEqual(claimedTokens, [[token], [token, other], ["inline-jwt"]]);
    for (const c of claimed) await inbox.complete(c.id, owner, "processed", null, clock.now());
  });

  it("stores all of a batch or none of it", async () => {
    // 600 items span two insert statements; the last one violates the org foreign key.
    const batch = Array.from({ length: 600 }, () => item());
    batch[599] = item({ orgId: "org_doesnotexist0000" });
    await assert.rejects(inbox.enqueue(batch, clock.now()));
    const keys = new Set(batch.map((b) => b.dedupeKey));
    assert.equal((await inbox.list({ limit: 5000 })).filter((r) => keys.has(r.dedupeKey)).length, 0);
  });

  it("claims due items oldest first with a lease, completes and retries them", async () => {
    const now = clock.advance(1000);
    const [x, y, z] = [item(), item(), item({ kind: "lifecycle", item: { lifecycleEvent: "missed" } })];
    await inbox.enqueue([x!], now);
    await inbox.enqueue([y!], now + 1);
    await inbox.enqueue([z!], now + 2);
    clock.advance(10);
    const claimed = await inbox.claim("worker-1", clock.now(), LEASE, 10);
    assert.deepEqual(
      claimed.map((c) => [c.subscriptionId, c.kind, c.attempts]),
      [
        [x!.subscriptionId, "change", 1],
        [y!.subscriptionId, "change", 1],
        [z!.subscriptionId, "lifecycle", 1],
      ],
    );
    assert.deepEqual(claimed[2]!.item, { lifecycleEvent: "missed" });
    assert.equal(claimed[0]!.orgId, orgId);
    assert.deepEqual(
      await inbox.claim("worker-2", clock.now(), LEASE, 10),
      [],
      "leased items are not claimed twice",
    );

    await inbox.complete(claimed[0]!.id, "worker-1", "processed", null, clock.now());
    await inbox.complete(claimed[1]!.id, "worker-1", "rejected", "validation_token_invalid", clock.now());
    await inbox.retry(claimed[2]!.id, "worker-1", "Graph throttled", clock.now() + 30_000);
    const rows = await inbox.list();
    const byId = (id: string) => rows.find((r) => r.id === id)!;
    assert.equal(byId(claimed[0]!.id).status, "processed");
    assert.deepEqual(byId(claimed[0]!.id).item, {}, "processed items are kept without content");
    assert.deepEqual(byId(claimed[0]!.id).validationTokens, []);
    assert.equal(byId(claimed[1]!.id).status, "rejected");
    assert.deepEqual(byId(claimed[1]!.id).item, {}, "rejected items are kept without content");
    assert.deepEqual(byId(claimed[1]!.id).validationTokens, []);
    assert.equal(byId(claimed[1]!.id).lastError, "validation_token_invalid");
    assert.equal(byId(claimed[2]!.id).status, "pending");
    assert.equal(byId(claimed[2]!.id).lastError, "Graph throttled");

    assert.deepEqual(
      await inbox.claim("worker-2", clock.now() + 29_999, LEASE, 10),
      [],
      "not before retryAt",
    );
    const again = await inbox.claim("worker-2", clock.now() + 30_000, LEASE, 10);
    assert.deepEqual(
      again.map((c) => [c.id, c.attempts]),
      [[claimed[2]!.id, 2]],
    );
    await inbox.complete(again[0]!.id, "worker-2", "processed", null, clock.now() + 30_000);
    const counts = await inbox.counts();
    assert.ok(counts.processed >= 2 && counts.rejected >= 1);
  });

  it("a dead owner's lease runs out and another worker takes the item; the dead owner's late answer changes nothing", async () => {
    const now = clock.advance(60_000);
    const lost = item();
    await inbox.enqueue([lost], now);
    const [taken] = await inbox.claim("dead-worker", now, LEASE, 10);
    assert.equal(taken!.subscriptionId, lost.subscriptionId);
    assert.deepEqual(await inbox.claim("live-worker", now + LEASE - 1, LEASE, 10), []);
    const [retaken] = await inbox.claim("live-worker", now + LEASE, LEASE, 10);
    assert.equal(retaken!.id, taken!.id);
    assert.equal(retaken!.attempts, 2);
    await inbox.complete(taken!.id, "dead-worker", "rejected", "late", now + LEASE + 1);
    await inbox.retry(taken!.id, "dead-worker", "late", now + LEASE + 1);
    let row = (await inbox.list()).find((r) => r.id === taken!.id)!;
    assert.equal(row.status, "pending");
    assert.equal(row.lockedBy, "live-worker");
    await inbox.complete(taken!.id, "live-worker", "processed", null, now + LEASE + 2);
    row = (await inbox.list()).find((r) => r.id === taken!.id)!;
    assert.equal(row.status, "processed");
    assert.equal(row.processedAt, now + LEASE + 2);
    assert.equal(row.lockedBy, null);
  });

  it("concurrent claims get disjoint items", async () => {
    const now = clock.advance(60_000);
    const batch = Array.from({ length: 20 }, () => item());
    await inbox.enqueue(batch, now);
    const [a, b] = await Promise.all([
      inbox.claim("worker-a", now, LEASE, 10),
      inbox.claim("worker-b", now, LEASE, 10),
    ]);
    const ids = [...a!, ...b!].map((c) => c.id);
    assert.equal(ids.length, 20);
    assert.equal(new Set(ids).size, 20, "no item claimed twice");
    for (const [owner, claimed] of [
      ["worker-a", a!],
      ["worker-b", b!],
    ] as const)
      for (const c of claimed) await inbox.complete(c.id, owner, "processed", null, now);
  });

  it("keeps no content of finished items; purges finished rows and unreferenced old tokens, never pending ones", async () => {
    const start = clock.advance(60_000);
    const oldToken = `eyJ.purge-${engine}.old`;
    const heldToken = `eyJ.purge-${engine}.held`;
    const done = item({ validationTokens: [oldToken] });
    const waiting = item({ validationTokens: [heldToken] });
    await inbox.enqueue([done, waiting], start);
    const owner = "purger";
    const claimed = await drain(owner, start);
    const doneClaim = claimed.find((c) => c.subscriptionId === done.subscriptionId)!;
    const waitingClaim = claimed.find((c) => c.subscriptionId === waiting.subscriptionId)!;
    await inbox.complete(doneClaim.id, owner, "processed", null, start);
    // Still pending: a backlog item, retried much later.
    await inbox.retry(waitingClaim.id, owner, "detection is down", start + 30 * 86_400_000);
    for (const other of claimed.filter((c) => c !== doneClaim && c !== waitingClaim))
      await inbox.complete(other.id, owner, "processed", null, start);

    const finished = (await inbox.list()).find((r) => r.id === doneClaim.id)!;
    assert.deepEqual(finished.item, {}, "the content goes when the item is finished");
    assert.deepEqual(finished.validationTokens, []);
    assert.equal(finished.dedupeKey, done.dedupeKey, "the dedupe key stays");

    // Earlier tests' rows finished before `start`; nothing finished at or after the cutoff goes.
    await inbox.purgeFinishedBefore(start);
    assert.ok((await inbox.list()).some((r) => r.id === doneClaim.id));
    assert.deepEqual(await inbox.purgeFinishedBefore(start + 1), { items: 1, validationTokens: 1 });
    const left = await inbox.list();
    assert.equal(
      left.find((r) => r.id === doneClaim.id),
      undefined,
    );
    assert.ok(
      left.every((r) => r.status === "pending"),
      "only pending rows stay",
    );
    assert.deepEqual(left.find((r) => r.id === waitingClaim.id)?.validationTokens, [heldToken]);
    const tokens = (await database.db.selectFrom("validation_tokens").select(["token"]).execute()).map(
      (r) => r.token,
    );
    assert.ok(!tokens.includes(oldToken), "a token no pending row needs goes");
    assert.ok(tokens.includes(heldToken), "a token a pending row needs stays");
  });
});
