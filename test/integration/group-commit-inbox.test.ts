import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { createGroupCommitWriter, type BatchInbox } from "../../src/storage/group-commit-inbox.ts";
import { InboxStore, type NewInboxItem } from "../../src/storage/inbox-store.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { forEachEngine, openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

forEachEngine("group commit inbox writer", (engine) => {
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

  function item(overrides: Partial<NewInboxItem> = {}): NewInboxItem {
    sequence += 1;
    return {
      dedupeKey: `gc-${engine}-${sequence}`,
      orgId,
      subscriptionId: `sub-${sequence}`,
      kind: "change",
      item: { resource: `chats('c')/messages('${sequence}')` },
      validationTokens: [],
      ...overrides,
    };
  }

  /** The store, with every transaction (one enqueueBatches call) counted. */
  function counted(): BatchInbox & { transactions: number; batchSizes: number[] } {
    const spy = {
      transactions: 0,
      batchSizes: [] as number[],
      enqueueBatches: (batches: Parameters<InboxStore["enqueueBatches"]>[0]) => {
        spy.transactions += 1;
        spy.batchSizes.push(batches.length);
        return inbox.enqueueBatches(batches);
      },
    };
    return spy;
  }

  async function storedKeys(keys: string[]): Promise<string[]> {
    const wanted = new Set(keys);
    return (await inbox.list({ limit: 100_000 })).map((r) => r.dedupeKey).filter((k) => wanted.has(k));
  }

  it("writes 100 concurrent enqueues in far fewer transactions, each item once", async () => {
    const store = counted();
    const writer = createGroupCommitWriter(store);
    const batches = Array.from({ length: 100 }, (_, i) => Array.from({ length: 1 + (i % 3) }, () => item()));
    const results = await Promise.all(batches.map((b) => writer.enqueue(b, clock.now())));
    results.forEach((result, i) => assert.deepEqual(result, { stored: batches[i]!.length, duplicates: 0 }));
    assert.ok(store.transactions <= 5, `${store.transactions} transactions for 100 callers`);
    assert.equal(
      store.batchSizes.reduce((a, b) => a + b, 0),
      100,
    );
    const keys = batches.flat().map((b) => b.dedupeKey);
    const stored = await storedKeys(keys);
    assert.equal(stored.length, keys.length);
    assert.equal(new Set(stored).size, keys.length);
  });

  it("caps a group at maxItems and still stores everything", async () => {
    const store = counted();
    const writer = createGroupCommitWriter(store, { maxItems: 10 });
    const batches = Array.from({ length: 30 }, () => [item()]);
    await Promise.all(batches.map((b) => writer.enqueue(b, clock.now())));
    assert.ok(store.transactions >= 3 && store.transactions < 30, `${store.transactions} transactions`);
    assert.ok(store.batchSizes.every((n) => n <= 10));
    assert.equal((await storedKeys(batches.flat().map((b) => b.dedupeKey))).length, 30);
  });

  it("reports an item repeated across callers of one group as a duplicate to the later caller", async () => {
    const store = counted();
    const writer = createGroupCommitWriter(store);
    const shared = item();
    const already = item();
    assert.deepEqual(await inbox.enqueue([already], clock.now()), { stored: 1, duplicates: 0 });
    const first = writer.enqueue([shared, item()], clock.now());
    const second = writer.enqueue(
      [item({ dedupeKey: shared.dedupeKey, item: { copy: 2 } }), item()],
      clock.now(),
    );
    const third = writer.enqueue([item({ dedupeKey: already.dedupeKey })], clock.now());
    assert.deepEqual(await first, { stored: 2, duplicates: 0 });
    assert.deepEqual(await second, { stored: 1, duplicates: 1 });
    assert.deepEqual(await third, { stored: 0, duplicates: 1 });
    assert.equal(store.transactions, 1);
    const row = (await inbox.list({ limit: 100_000 })).find((r) => r.dedupeKey === shared.dedupeKey)!;
    assert.deepEqual(row.item, shared.item, "the earlier caller's copy wins");
  });

  it("rejects every caller of a failed group and stores nothing of it", async () => {
    const store = counted();
    const writer = createGroupCommitWriter(store);
    const good = Array.from({ length: 5 }, () => [item(), item()]);
    // This caller's item violates the org foreign key, so the group's one transaction fails.
    const bad = [item({ orgId: "org_doesnotexist0000" })];
    const calls = [...good, bad].map((b) => writer.enqueue(b, clock.now()));
    const settled = await Promise.allSettled(calls);
    assert.equal(store.transactions, 1);
    assert.ok(settled.every((s) => s.status === "rejected"));
    const keys = [...good.flat(), ...bad].map((b) => b.dedupeKey);
    assert.deepEqual(await storedKeys(keys), []);
    // The writer keeps working after a failed group.
    const next = [item()];
    assert.deepEqual(await writer.enqueue(next, clock.now()), { stored: 1, duplicates: 0 });
  });
});
