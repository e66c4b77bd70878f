import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InboxStore, type NewInboxItem } from "../../src/storage/inbox-store.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { startSqliteInboxWriter, type SqliteInboxWriter } from "../../src/storage/sqlite-inbox-writer.ts";
import { openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

describe("SQLite inbox writer thread", () => {
  let database: TestDatabase;
  let inbox: InboxStore;
  let writer: SqliteInboxWriter;
  let orgId: string;
  let sequence = 0;
  const clock = new FakeClock();

  before(async () => {
    database = await openTestDatabase("sqlite");
    inbox = new InboxStore(database.db, "sqlite");
    orgId = (
      await new OrgStore(database.db, createSecretBox(Buffer.alloc(32, 1)), clock).create({ name: "A" })
    ).id;
    writer = await startSqliteInboxWriter(database.location);
  });
  after(async () => {
    await writer.close();
    await database.close();
  });

  function item(): NewInboxItem {
    sequence += 1;
    return {
      dedupeKey: `key-${sequence}`,
      orgId,
      subscriptionId: "sub-1",
      kind: "change",
      item: { subscriptionId: "sub-1", resource: `chats('c')/messages('${sequence}')` },
      validationTokens: ["jwt"],
    };
  }

  it("commits batches on its own connection; the main connection sees them, duplicates counted per batch", async () => {
    const a = item();
    const b = item();
    const counts = await writer.enqueueBatches([
      { items: [a, b], now: clock.now() },
      { items: [a, item()], now: clock.now() },
    ]);
    assert.deepEqual(counts, [
      { stored: 2, duplicates: 0 },
      { stored: 1, duplicates: 1 },
    ]);
    const rows = await inbox.list();
    assert.deepEqual(rows.map((r) => r.dedupeKey).sort(), ["key-1", "key-2", "key-3"]);
    assert.deepEqual(rows.find((r) => r.dedupeKey === "key-1")?.item, a.item);
  });

  it("stores a validation token once, however many items carry it, and the store reads it back", async () => {
    const token = `eyJ.writer.${"y".repeat(900)}`;
    const items = Array.from({ length: 5 }, () => ({ ...item(), validationTokens: [token] }));
    await writer.enqueueBatches([{ items: items.slice(0, 3), now: clock.now() }]);
    await writer.enqueueBatches([{ items: items.slice(3), now: clock.now() }]);
    const stored = await database.db
      .selectFrom("validation_tokens")
      .select(["token"])
      .where("token", "=", token)
      .execute();
    assert.equal(stored.length, 1);
    const keys = new Set(items.map((i) => i.dedupeKey));
    const rows = (await inbox.list()).filter((r) => keys.has(r.dedupeKey));
    assert.equal(rows.length, 5);
    for (const row of rows) assert.deepEqual(row.validationTokens, [token]);
  });

  it("does not break the main connection's read-then-write transactions while it commits", async () => {
    // A deferred BEGIN that reads, waits, then writes fails with SQLITE_BUSY when the thread committed in between;
    // the main connection starts its transactions with BEGIN IMMEDIATE instead.
    const writes = Array.from({ length: 100 }, () =>
      writer.enqueueBatches([{ items: [item(), item()], now: clock.now() }]),
    );
    for (let round = 0; round < 20; round++) {
      await database.db.transaction().execute(async (trx) => {
        await trx
          .selectFrom("inbox")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirst();
        await new Promise((resolve) => setTimeout(resolve, 2));
        await trx
          .updateTable("orgs")
          .set({ name: `A${round}` })
          .where("id", "=", orgId)
          .execute();
      });
    }
    const results = await Promise.all(writes);
    assert.equal(
      results.reduce((sum, [c]) => sum + c!.stored, 0),
      200,
    );
  });

  it("rejects what is handed over once closed, and closing twice is fine", async () => {
    const other = await startSqliteInboxWriter(database.location);
    await other.close();
    await other.close();
    await assert.rejects(other.enqueueBatches([{ items: [item()], now: 0 }]), {
      code: "ERR_STORAGE_UNAVAILABLE",
    });
  });

  it("fails a batch it cannot store with ERR_STORAGE_UNAVAILABLE and stores none of it", async () => {
    const before = (await inbox.list()).length;
    const bad = { ...item(), orgId: "org_does_not_exist" };
    await assert.rejects(writer.enqueueBatches([{ items: [item(), bad], now: clock.now() }]), {
      code: "ERR_STORAGE_UNAVAILABLE",
    });
    assert.equal((await inbox.list()).length, before);
    assert.deepEqual(await writer.enqueueBatches([{ items: [item()], now: clock.now() }]), [
      { stored: 1, duplicates: 0 },
    ]);
  });

  it("requests queued together are written together, and one that cannot be stored fails alone", async () => {
    const good = item();
    const bad = { ...item(), orgId: "org_does_not_exist" };
    // Handed over in one turn, so the thread finds both queued and merges them into one transaction first.
    const [first, second, third] = await Promise.allSettled([
      writer.enqueueBatches([{ items: [good], now: clock.now() }]),
      writer.enqueueBatches([{ items: [bad], now: clock.now() }]),
      writer.enqueueBatches([{ items: [good, item()], now: clock.now() }]),
    ]);
    assert.deepEqual(first, { status: "fulfilled", value: [{ stored: 1, duplicates: 0 }] });
    assert.equal(second.status, "rejected");
    assert.deepEqual(third, { status: "fulfilled", value: [{ stored: 1, duplicates: 1 }] });
    const keys = new Set((await inbox.list()).map((r) => r.dedupeKey));
    assert.ok(keys.has(good.dedupeKey));
    assert.ok(!keys.has(bad.dedupeKey));
  });
});
