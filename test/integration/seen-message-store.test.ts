import assert from "node:assert/strict";
import { it } from "node:test";
import { PollWatermarkStore } from "../../src/storage/poll-watermark-store.ts";
import { SeenMessageStore } from "../../src/storage/seen-message-store.ts";
import { forEachEngine, openTestDatabase, type TestDatabase } from "../helpers/databases.ts";

const T0 = Date.parse("2026-11-27T09:00:00.000Z");
const STALE = 60_000;
const CHAT = "19:8b081ef6-4792-4def-b2c9-c363a1bf41d5_5031bb31@unq.gbl.spaces";

async function insertOrg(database: TestDatabase, id: string) {
  await database.db
    .insertInto("orgs")
    .values({ id, name: `Org ${id}`, created_at: 0, updated_at: 0 })
    .execute();
}

const message = (messageId: string, orgId = "org-1", chatId = CHAT) => ({ orgId, chatId, messageId });

forEachEngine("SeenMessageStore", (engine) => {
  async function open(t: { after(fn: () => Promise<void>): void }) {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    await insertOrg(database, "org-1");
    await insertOrg(database, "org-2");
    return {
      database,
      seen: new SeenMessageStore(database.db, { claimStaleMs: STALE }),
      watermarks: new PollWatermarkStore(database.db),
    };
  }

  it("of many concurrent claims for one message exactly one is new; the rest see it in progress", async (t) => {
    const { seen } = await open(t);
    for (let round = 0; round < 5; round++) {
      const key = message(`17000000000${round}`);
      const claims = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          seen.claim({ ...key, source: i % 2 ? "polling" : "notification", messageCreatedAt: T0 }, T0 + i),
        ),
      );
      assert.equal(claims.filter((c) => c.status === "new").length, 1, JSON.stringify(claims));
      assert.ok(claims.every((c) => c.status === "new" || c.status === "in_progress"));
      await seen.confirm(key, T0 + 20);
      const again = await Promise.all(
        Array.from({ length: 10 }, () =>
          seen.claim({ ...key, source: "polling", messageCreatedAt: T0 }, T0 + 30),
        ),
      );
      assert.ok(again.every((c) => c.status === "seen"));
    }
  });

  it("a confirmed message stays seen, even long after", async (t) => {
    const { seen } = await open(t);
    const key = message("1700000000001");
    assert.deepEqual(await seen.claim({ ...key, source: "notification", messageCreatedAt: null }, T0), {
      status: "new",
    });
    await seen.confirm(key, T0 + 5);
    assert.deepEqual(
      await seen.claim({ ...key, source: "polling", messageCreatedAt: null }, T0 + 10 * STALE),
      {
        status: "seen",
      },
    );
  });

  it("an unconfirmed claim is in progress until it goes stale, then one claimer takes it over", async (t) => {
    const { seen } = await open(t);
    const key = message("1700000000002");
    await seen.claim({ ...key, source: "notification", messageCreatedAt: T0 }, T0);
    assert.deepEqual(await seen.claim({ ...key, source: "notification", messageCreatedAt: T0 }, T0 + 1000), {
      status: "in_progress",
      retryAt: T0 + STALE,
    });
    // The first worker died without confirming: after the stale time exactly one claimer takes over.
    const takeovers = await Promise.all(
      Array.from({ length: 6 }, () =>
        seen.claim({ ...key, source: "polling", messageCreatedAt: T0 }, T0 + STALE),
      ),
    );
    assert.equal(takeovers.filter((c) => c.status === "new").length, 1);
    assert.deepEqual(await seen.claim({ ...key, source: "polling", messageCreatedAt: T0 }, T0 + STALE + 1), {
      status: "in_progress",
      retryAt: T0 + 2 * STALE,
    });
  });

  it("a released claim (the hand-off failed) is new again; release never undoes a confirmed one", async (t) => {
    const { seen } = await open(t);
    const key = message("1700000000003");
    await seen.claim({ ...key, source: "notification", messageCreatedAt: T0 }, T0);
    await seen.release(key);
    assert.equal(
      (await seen.claim({ ...key, source: "notification", messageCreatedAt: T0 }, T0 + 1)).status,
      "new",
    );
    await seen.confirm(key, T0 + 2);
    await seen.release(key);
    assert.equal(
      (await seen.claim({ ...key, source: "notification", messageCreatedAt: T0 }, T0 + 3)).status,
      "seen",
    );
  });

  it("keys on (org, chat, message): message ids repeat across chats and orgs", async (t) => {
    const { seen } = await open(t);
    for (const key of [message("1"), message("1", "org-1", "19:other@thread.v2"), message("1", "org-2")]) {
      assert.equal(
        (await seen.claim({ ...key, source: "notification", messageCreatedAt: null }, T0)).status,
        "new",
      );
    }
  });

  it("counts handed-over messages by the path that delivered them first, and purges old ones", async (t) => {
    const { seen } = await open(t);
    const hand = async (id: string, source: "notification" | "polling", at: number, orgId = "org-1") => {
      const key = message(id, orgId);
      assert.equal((await seen.claim({ ...key, source, messageCreatedAt: at }, at)).status, "new");
      await seen.confirm(key, at);
    };
    await hand("a", "notification", T0);
    await hand("b", "notification", T0 + 1);
    await hand("c", "polling", T0 + 2);
    await hand("d", "polling", T0 + 3, "org-2");
    await seen.claim({ ...message("pending"), source: "polling", messageCreatedAt: null }, T0);
    // Seen again through the other path: still counted where it came first.
    assert.equal(
      (await seen.claim({ ...message("a"), source: "polling", messageCreatedAt: T0 }, T0 + 9)).status,
      "seen",
    );
    assert.deepEqual(await seen.countBySource("org-1"), { notification: 2, polling: 1 });
    assert.deepEqual(await seen.countBySource(), { notification: 2, polling: 2 });
    assert.equal(await seen.purgeSeenBefore(T0 + 2), 2);
    assert.deepEqual(await seen.countBySource(), { notification: 0, polling: 2 });
    // The unconfirmed claim is not purged.
    assert.equal(
      (await seen.claim({ ...message("pending"), source: "polling", messageCreatedAt: null }, T0 + 1)).status,
      "in_progress",
    );
  });

  it("poll watermarks only move forward", async (t) => {
    const { watermarks } = await open(t);
    assert.equal(await watermarks.get("org-1"), undefined);
    await watermarks.advance("org-1", T0, T0);
    await watermarks.advance("org-1", T0 - 5000, T0 + 1);
    assert.equal(await watermarks.get("org-1"), T0);
    await Promise.all([1, 5, 3, 2, 4].map((n) => watermarks.advance("org-1", T0 + n * 1000, T0 + 2)));
    assert.equal(await watermarks.get("org-1"), T0 + 5000);
    assert.equal(await watermarks.get("org-2"), undefined);
  });
});
