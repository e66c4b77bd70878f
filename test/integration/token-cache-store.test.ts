import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { it } from "node:test";
import { RelayError } from "../../src/core/errors.ts";
import type { SecretBox } from "../../src/core/secret-box.ts";
import { TokenCacheStore } from "../../src/storage/token-cache-store.ts";
import { forEachEngine, openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

/** A minimal AES-256-GCM box for tests (the real one is src/core's SecretBox implementation). */
function testSecretBox(): SecretBox {
  const key = randomBytes(32);
  return {
    seal(plaintext, aad) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv).setAAD(Buffer.from(aad, "utf8"));
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return ["t1", iv, cipher.getAuthTag(), body]
        .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
        .join(".");
    },
    open(envelope, aad) {
      try {
        const [, iv, tag, body] = envelope.split(".");
        const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv!, "base64url"))
          .setAAD(Buffer.from(aad, "utf8"))
          .setAuthTag(Buffer.from(tag!, "base64url"));
        return Buffer.concat([decipher.update(Buffer.from(body!, "base64url")), decipher.final()]).toString(
          "utf8",
        );
      } catch (error) {
        throw new RelayError("ERR_SECRET_UNREADABLE", "cannot open sealed value", { cause: error });
      }
    },
  };
}

const REFRESH_TOKEN = "1.AQ0A-refresh-token-secret-value-that-must-never-be-stored-in-clear";

/** Shaped like msal's serialized cache. */
function msalBlob(refreshToken: string, generation: number): string {
  return JSON.stringify({
    Account: {
      "oid.tid-login.windows.net-tid": { home_account_id: "oid.tid", username: "relay@contoso.example" },
    },
    RefreshToken: { "oid.tid-login.windows.net-refreshtoken-client--": { secret: refreshToken, generation } },
    AccessToken: {},
    IdToken: {},
    AppMetadata: {},
  });
}

async function insertOrg(database: TestDatabase, id: string) {
  await database.db
    .insertInto("orgs")
    .values({ id, name: `Org ${id}`, created_at: 0, updated_at: 0 })
    .execute();
}

forEachEngine("TokenCacheStore", (engine) => {
  async function setup(t: { after(fn: () => Promise<void>): void }) {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    await insertOrg(database, "org-1");
    await insertOrg(database, "org-2");
    const clock = new FakeClock();
    return { database, clock, store: new TokenCacheStore(database.db, testSecretBox(), clock) };
  }

  async function rawRow(database: TestDatabase, orgId: string) {
    return database.db
      .selectFrom("ms_token_caches")
      .selectAll()
      .where("org_id", "=", orgId)
      .executeTakeFirst();
  }

  it("stores the cache sealed: the column holds neither the blob nor the refresh token", async (t) => {
    const { database, store, clock } = await setup(t);
    const persistence = store.persistenceFor("org-1");
    assert.equal(await persistence.load(), undefined);
    await persistence.save(msalBlob(REFRESH_TOKEN, 1));

    const row = await rawRow(database, "org-1");
    assert.ok(row);
    assert.equal(row.version, 1);
    assert.equal(Number(row.updated_at), clock.now());
    assert.ok(!row.cache_ciphertext.includes(REFRESH_TOKEN), "refresh token stored in clear");
    assert.ok(!row.cache_ciphertext.includes("refresh-token-secret"), "part of the refresh token in clear");
    assert.ok(!row.cache_ciphertext.includes("RefreshToken"), "cache structure in clear");
    assert.ok(!row.cache_ciphertext.includes(Buffer.from(REFRESH_TOKEN).toString("base64")));

    // A fresh persistence object (another instance) reads the same blob back.
    assert.equal(await store.persistenceFor("org-1").load(), msalBlob(REFRESH_TOKEN, 1));
  });

  it("binds the ciphertext to its org: copied into another org's row it does not open", async (t) => {
    const { database, store } = await setup(t);
    await store.persistenceFor("org-1").save(msalBlob(REFRESH_TOKEN, 1));
    const row = await rawRow(database, "org-1");
    await database.db
      .insertInto("ms_token_caches")
      .values({ org_id: "org-2", cache_ciphertext: row!.cache_ciphertext, version: 1, updated_at: 0 })
      .execute();
    await assert.rejects(
      store.persistenceFor("org-2").load(),
      (error: unknown) => error instanceof RelayError && error.code === "ERR_SECRET_UNREADABLE",
    );
  });

  it("bumps the version on every write, from any persistence object", async (t) => {
    const { store, clock } = await setup(t);
    const first = store.persistenceFor("org-1");
    await first.save(msalBlob("rt-1", 1));
    await first.save(msalBlob("rt-2", 2));
    assert.equal(await store.version("org-1"), 2);

    clock.advance(1000);
    const second = store.persistenceFor("org-1");
    assert.equal(await second.load(), msalBlob("rt-2", 2));
    await second.save(msalBlob("rt-3", 3));
    await second.save(msalBlob("rt-4", 4));
    assert.equal(await store.version("org-1"), 4);
    assert.equal(await store.persistenceFor("org-1").load(), msalBlob("rt-4", 4));
    assert.equal(await store.version("org-2"), undefined);
  });

  it("refuses to overwrite a row another writer changed since it was loaded", async (t) => {
    const { store } = await setup(t);
    await store.persistenceFor("org-1").save(msalBlob("rt-1", 1));
    const slow = store.persistenceFor("org-1");
    const fast = store.persistenceFor("org-1");
    await slow.load();
    await fast.load();
    await fast.save(msalBlob("rt-fast", 2));
    await assert.rejects(
      slow.save(msalBlob("rt-slow", 2)),
      (error: unknown) => error instanceof RelayError && error.code === "ERR_CONFLICT",
    );
    assert.equal(await store.persistenceFor("org-1").load(), msalBlob("rt-fast", 2));
    // A save without a load (a new connection) replaces whatever is there.
    await store.persistenceFor("org-1").save(msalBlob("rt-new-connection", 1));
    assert.equal(await store.persistenceFor("org-1").load(), msalBlob("rt-new-connection", 1));
    assert.equal(await store.version("org-1"), 3);
  });

  it("deletes an org's cache, and a stale writer does not resurrect it", async (t) => {
    const { store } = await setup(t);
    const persistence = store.persistenceFor("org-1");
    await persistence.save(msalBlob("rt-1", 1));
    await persistence.load();
    assert.equal(await store.delete("org-1"), true);
    assert.equal(await store.delete("org-1"), false);
    assert.equal(await store.persistenceFor("org-1").load(), undefined);
    await assert.rejects(persistence.save(msalBlob("rt-2", 2)), /changed or removed/);
    assert.equal(await store.version("org-1"), undefined);
  });
});
