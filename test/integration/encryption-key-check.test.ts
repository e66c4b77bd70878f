import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it } from "node:test";
import { RelayError } from "../../src/core/errors.ts";
import { KEY_CHECK_KEY, verifyEncryptionKey } from "../../src/storage/encryption-key-check.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox, secretKeyId } from "../../src/storage/secret-box.ts";
import { forEachEngine, openTestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

forEachEngine("encryption key check", (engine) => {
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);
  const refused = (keyOfDatabase: Buffer, keyOfInstance: Buffer) => (error: unknown) => {
    assert.ok(error instanceof RelayError);
    assert.equal(error.code, "ERR_CONFIG");
    assert.match(
      error.message,
      new RegExp(
        `key id ${secretKeyId(keyOfDatabase)}, this instance's key has id ${secretKeyId(keyOfInstance)}`,
      ),
    );
    return true;
  };

  it("seals a marker on the first start and refuses another key afterwards", async (t) => {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    const clock = new FakeClock();
    await verifyEncryptionKey(database.db, createSecretBox(keyA), clock.now());
    await verifyEncryptionKey(database.db, createSecretBox(keyA), clock.now());
    await assert.rejects(
      verifyEncryptionKey(database.db, createSecretBox(keyB), clock.now()),
      refused(keyA, keyB),
    );
    const marker = await database.db
      .selectFrom("kv")
      .select("value")
      .where("key", "=", KEY_CHECK_KEY)
      .executeTakeFirst();
    assert.ok(marker && !marker.value.includes("encryption key check"), "the marker is stored sealed");
  });

  it("lets exactly one of two keys win when both start on a new database at once", async (t) => {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    const results = await Promise.allSettled(
      [keyA, keyB].map((key) => verifyEncryptionKey(database.db, createSecretBox(key), 0)),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
  });

  it("checks a database from before the marker against the secrets already in it", async (t) => {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    const clock = new FakeClock();
    const org = await new OrgStore(database.db, createSecretBox(keyA), clock).create({ name: "Contoso" });
    await new OrgStore(database.db, createSecretBox(keyA), clock).update(org.id, {
      clientSecret: "s3cret-value",
    });
    await assert.rejects(
      verifyEncryptionKey(database.db, createSecretBox(keyB), clock.now()),
      refused(keyA, keyB),
    );
    // Nothing was stored by the refused start: the right key still gets in.
    await verifyEncryptionKey(database.db, createSecretBox(keyA), clock.now());
  });
});
