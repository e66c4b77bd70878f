import assert from "node:assert/strict";
import { it } from "node:test";
import { DetectionRuleStore } from "../../src/storage/detection-rule-store.ts";
import { forEachEngine, openTestDatabase } from "../helpers/databases.ts";

const T0 = Date.parse("2026-11-27T09:00:00.000Z");

forEachEngine("DetectionRuleStore", (engine) => {
  async function open(t: { after(fn: () => Promise<void>): void }) {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    for (const id of ["org-1", "org-2"])
      await database.db.insertInto("orgs").values({ id, name: id, created_at: 0, updated_at: 0 }).execute();
    return { database, rules: new DetectionRuleStore(database.db) };
  }

  it("creates, lists in creation order per org, updates and deletes", async (t) => {
    const { rules } = await open(t);
    const first = await rules.create(
      "org-1",
      { name: "FR", kind: "phrase", value: "a passé un appel d'urgence", marksTest: false },
      T0,
    );
    const second = await rules.create(
      "org-1",
      { name: "DE", kind: "pattern", value: "^(?<caller>.+) Notruf$", marksTest: true },
      T0 + 1,
    );
    await rules.create(
      "org-2",
      { name: "other org", kind: "phrase", value: "alarm raised by", marksTest: false },
      T0,
    );
    assert.match(first.id, /^rule_[0-9a-z]{21}$/);

    const listed = await rules.list("org-1");
    assert.deepEqual(
      listed.map((r) => r.id),
      [first.id, second.id],
    );
    assert.deepEqual(listed[1], {
      id: second.id,
      orgId: "org-1",
      name: "DE",
      kind: "pattern",
      value: "^(?<caller>.+) Notruf$",
      marksTest: true,
      createdAt: T0 + 1,
      updatedAt: T0 + 1,
    });
    assert.equal(await rules.count("org-1"), 2);
    assert.deepEqual(
      (await rules.listForOrg("org-2")).map((r) => r.name),
      ["other org"],
    );

    const updated = await rules.update(
      "org-1",
      first.id,
      { name: "FR2", kind: "phrase", value: "appel d'urgence de", marksTest: true },
      T0 + 5,
    );
    assert.equal(updated?.value, "appel d'urgence de");
    assert.equal(updated?.marksTest, true);
    assert.equal(updated?.createdAt, T0);
    assert.equal(updated?.updatedAt, T0 + 5);
    // Another org's id does not reach across.
    assert.equal(
      await rules.update(
        "org-2",
        first.id,
        { name: "x", kind: "phrase", value: "abcd", marksTest: false },
        T0,
      ),
      undefined,
    );
    assert.equal(await rules.get("org-2", first.id), undefined);
    assert.equal(await rules.delete("org-2", first.id), false);

    assert.equal(await rules.delete("org-1", first.id), true);
    assert.equal(await rules.delete("org-1", first.id), false);
    assert.deepEqual(
      (await rules.list("org-1")).map((r) => r.id),
      [second.id],
    );
  });

  it("rules made in the same millisecond list in the order they were made", async (t) => {
    const { rules } = await open(t);
    const names = Array.from({ length: 12 }, (_, i) => `rule ${i}`);
    for (const name of names)
      await rules.create("org-1", { name, kind: "phrase", value: `${name} phrase`, marksTest: false }, T0);
    assert.deepEqual(
      (await rules.list("org-1")).map((r) => r.name),
      names,
    );
  });

  it("rules go with their org", async (t) => {
    const { database, rules } = await open(t);
    await rules.create(
      "org-1",
      { name: "FR", kind: "phrase", value: "appel d'urgence", marksTest: false },
      T0,
    );
    await database.db.deleteFrom("orgs").where("id", "=", "org-1").execute();
    assert.deepEqual(await rules.list("org-1"), []);
  });
});
