import assert from "node:assert/strict";
import { it, type TestContext } from "node:test";
import { RelayError } from "../../src/core/errors.ts";
import type { Org } from "../../src/core/org.ts";
import { OrgStore, clientSecretAad } from "../../src/storage/org-store.ts";
import type { Engine } from "../../src/storage/schema.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { forEachEngine, openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

const KEY = Buffer.alloc(32, 3);
const SECRET = "Abc8Q~the-real-client-secret.value_0123";
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT = "11111111-2222-3333-4444-555555555555";
const EXPIRES = Date.parse("2027-05-31T00:00:00Z");
const DAY = 86_400_000;

async function setup(
  t: TestContext,
  engine: Engine,
): Promise<{ store: OrgStore; clock: FakeClock; database: TestDatabase }> {
  const database = await openTestDatabase(engine);
  t.after(() => database.close());
  const clock = new FakeClock();
  return { store: new OrgStore(database.db, createSecretBox(KEY), clock), clock, database };
}

async function rawRow(database: TestDatabase, id: string) {
  return database.db.selectFrom("orgs").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
}

forEachEngine("org store", (engine) => {
  it("creates an org with a fresh id and reads it back", async (t) => {
    const { store, clock } = await setup(t, engine);
    const org = await store.create({ name: "Contoso", expectedServiceUserUpn: "svc@contoso.com" });
    assert.match(org.id, /^org_[0-9a-f]{16}$/);
    const expected: Org = {
      id: org.id,
      name: "Contoso",
      tenantId: null,
      clientId: null,
      hasClientSecret: false,
      clientSecretExpiresAt: null,
      webhookBaseUrl: null,
      expectedServiceUserUpn: "svc@contoso.com",
      secretExpiryWarnedDays: null,
      notificationMode: "rich",
      createdAt: clock.now(),
      updatedAt: clock.now(),
    };
    assert.deepEqual(org, expected);
    assert.deepEqual(await store.get(org.id), expected);
    assert.equal(await store.get("org_0000000000000000"), undefined);
    const other = await store.create({ name: "Fabrikam" });
    assert.notEqual(other.id, org.id);
  });

  it("lists orgs oldest first", async (t) => {
    const { store, clock } = await setup(t, engine);
    assert.deepEqual(await store.list(), []);
    const names = ["Charlie", "Alpha", "Bravo"];
    for (const name of names) {
      await store.create({ name });
      clock.advance(1000);
    }
    assert.deepEqual(
      (await store.list()).map((o) => o.name),
      names,
    );
  });

  it("updates only the fields given, null clears, and bumps updatedAt", async (t) => {
    const { store, clock } = await setup(t, engine);
    const org = await store.create({ name: "Contoso", webhookBaseUrl: "https://relay.contoso.com" });
    clock.advance(5000);
    const updated = await store.update(org.id, { tenantId: TENANT, clientId: CLIENT, webhookBaseUrl: null });
    assert.deepEqual(updated, {
      ...org,
      tenantId: TENANT,
      clientId: CLIENT,
      webhookBaseUrl: null,
      updatedAt: org.createdAt + 5000,
    });
    assert.deepEqual(await store.get(org.id), updated);

    const renamed = await store.update(org.id, { name: "Contoso Ltd" });
    assert.equal(renamed.name, "Contoso Ltd");
    assert.equal(renamed.tenantId, TENANT);
    assert.equal(renamed.createdAt, org.createdAt);
  });

  it("seals the client secret: the column holds an envelope, readClientSecret the clear value", async (t) => {
    const { store, database } = await setup(t, engine);
    const org = await store.create({ name: "Contoso" });
    assert.equal(await store.readClientSecret(org.id), undefined);

    const updated = await store.update(org.id, { clientSecret: SECRET, clientSecretExpiresAt: EXPIRES });
    assert.equal(updated.hasClientSecret, true);
    assert.equal(updated.clientSecretExpiresAt, EXPIRES);
    assert.ok(!JSON.stringify(updated).includes(SECRET), "the Org value carries the secret");

    const row = await rawRow(database, org.id);
    assert.match(row.client_secret_ciphertext!, /^v1\.[0-9a-f]{8}\.[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(!JSON.stringify(row).includes(SECRET), "the row holds the clear secret");
    assert.equal(
      createSecretBox(KEY).open(row.client_secret_ciphertext!, clientSecretAad(org.id)),
      SECRET,
      "sealed for this org's row",
    );
    assert.equal(await store.readClientSecret(org.id), SECRET);
    assert.equal(await store.readClientSecret("org_ffffffffffffffff"), undefined);

    await store.update(org.id, { clientSecret: null });
    assert.equal((await store.get(org.id))!.hasClientSecret, false);
    assert.equal(await store.readClientSecret(org.id), undefined);
  });

  it("refuses a sealed secret copied into another org's row", async (t) => {
    const { store, database } = await setup(t, engine);
    const source = await store.create({ name: "Contoso" });
    const target = await store.create({ name: "Fabrikam" });
    await store.update(source.id, { clientSecret: SECRET });
    const { client_secret_ciphertext } = await rawRow(database, source.id);
    await database.db
      .updateTable("orgs")
      .set({ client_secret_ciphertext })
      .where("id", "=", target.id)
      .execute();
    await assert.rejects(store.readClientSecret(target.id), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.equal(error.code, "ERR_SECRET_UNREADABLE");
      assert.ok(!error.message.includes(SECRET));
      return true;
    });
  });

  it("cannot read secrets sealed under another key", async (t) => {
    const { store, database, clock } = await setup(t, engine);
    const org = await store.create({ name: "Contoso" });
    await store.update(org.id, { clientSecret: SECRET });
    const otherKeyStore = new OrgStore(database.db, createSecretBox(Buffer.alloc(32, 4)), clock);
    await assert.rejects(otherKeyStore.readClientSecret(org.id), /different key id/);
  });

  it("resets the expiry warnings when the secret or its expiry changes, not otherwise", async (t) => {
    const { store } = await setup(t, engine);
    const org = await store.create({ name: "Contoso" });
    await store.update(org.id, { clientSecret: SECRET, clientSecretExpiresAt: EXPIRES });
    const warned = async (): Promise<number | null> => (await store.get(org.id))!.secretExpiryWarnedDays;

    await store.markSecretExpiryWarned(org.id, 14);
    assert.equal(await warned(), 14);
    await store.update(org.id, { name: "Contoso Ltd", tenantId: TENANT, clientSecretExpiresAt: EXPIRES });
    assert.equal(await warned(), 14, "same expiry re-entered: warnings stand");

    await store.update(org.id, { clientSecretExpiresAt: EXPIRES + 180 * DAY });
    assert.equal(await warned(), null, "new expiry");

    await store.markSecretExpiryWarned(org.id, 7);
    await store.update(org.id, { clientSecret: `${SECRET}-rotated` });
    assert.equal(await warned(), null, "new secret");
    assert.equal(await store.readClientSecret(org.id), `${SECRET}-rotated`);

    await store.markSecretExpiryWarned(org.id, 1);
    await store.update(org.id, { clientSecretExpiresAt: null });
    assert.equal(await warned(), null, "expiry cleared");
  });

  it("marks a warning only for the expiry it was computed from, when told which", async (t) => {
    const { store } = await setup(t, engine);
    const org = await store.create({ name: "Contoso" });
    await store.update(org.id, { clientSecretExpiresAt: EXPIRES });
    await store.markSecretExpiryWarned(org.id, 30, EXPIRES - DAY);
    assert.equal((await store.get(org.id))!.secretExpiryWarnedDays, null);
    await store.markSecretExpiryWarned(org.id, 30, EXPIRES);
    assert.equal((await store.get(org.id))!.secretExpiryWarnedDays, 30);
  });

  it("throws ERR_NOT_FOUND when updating an unknown org, and creates nothing", async (t) => {
    const { store } = await setup(t, engine);
    await assert.rejects(store.update("org_ffffffffffffffff", { name: "Ghost" }), { code: "ERR_NOT_FOUND" });
    assert.deepEqual(await store.list(), []);
  });

  it("deletes an org with its dependent rows", async (t) => {
    const { store, database, clock } = await setup(t, engine);
    const org = await store.create({ name: "Contoso" });
    const kept = await store.create({ name: "Fabrikam" });
    await database.db
      .insertInto("oauth_pending")
      .values({
        state: "s1",
        org_id: org.id,
        code_verifier_ciphertext: "x",
        nonce: "n",
        login_hint: null,
        created_at: clock.now(),
        expires_at: clock.now() + 600_000,
      })
      .execute();

    assert.equal(await store.delete(org.id), true);
    assert.equal(await store.get(org.id), undefined);
    assert.equal(await store.delete(org.id), false);
    assert.deepEqual(
      (await store.list()).map((o) => o.id),
      [kept.id],
    );
    const pending = await database.db.selectFrom("oauth_pending").selectAll().execute();
    assert.deepEqual(pending, []);
  });
});
