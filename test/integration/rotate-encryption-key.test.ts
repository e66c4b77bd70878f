// Key rotation on real SQLite and PostgreSQL: every sealed column re-sealed in one transaction, readable with the
// new key only, all or nothing; and the list of sealed columns matches the schema, so a new one is not forgotten.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it } from "node:test";
import { sql } from "kysely";
import type { Database } from "../../src/storage/schema.ts";
import type { Kysely } from "kysely";
import { RelayError } from "../../src/core/errors.ts";
import { AlertChannelStore } from "../../src/storage/alert-channel-store.ts";
import { AlertOutboxStore } from "../../src/storage/alert-outbox-store.ts";
import { EncryptionCertificateStore } from "../../src/storage/encryption-certificate-store.ts";
import { verifyEncryptionKey } from "../../src/storage/encryption-key-check.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { PendingAuthStore } from "../../src/storage/pending-auth-store.ts";
import { rotateEncryptionKey, SEALED_COLUMNS } from "../../src/storage/rotate-encryption-key.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { SubscriptionStore } from "../../src/storage/subscription-store.ts";
import { TokenCacheStore } from "../../src/storage/token-cache-store.ts";
import type { SecretBox } from "../../src/core/secret-box.ts";
import type { Engine } from "../../src/storage/schema.ts";
import { aDelivery } from "../helpers/alert-fixtures.ts";
import { forEachEngine, openTestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

forEachEngine("encryption key rotation", (engine) => {
  const clock = new FakeClock();
  const oldBox = createSecretBox(randomBytes(32));
  const newBox = createSecretBox(randomBytes(32));

  /** One value in every sealed column, written by the stores themselves. Returns how to read each back. */
  async function fill(db: Kysely<Database>) {
    const now = clock.now();
    await verifyEncryptionKey(db, oldBox, now);
    const org = await new OrgStore(db, oldBox, clock).create({ name: "Contoso" });
    await new OrgStore(db, oldBox, clock).update(org.id, { clientSecret: "client-secret-value" });
    await new TokenCacheStore(db, oldBox, clock).persistenceFor(org.id).save('{"refresh":"token-value"}');
    await new PendingAuthStore(db, oldBox).create({
      state: "state-1",
      orgId: org.id,
      codeVerifier: "verifier-value",
      nonce: "nonce",
      loginHint: null,
      replaceUser: false,
      createdAt: now,
      expiresAt: now + 900_000,
    });
    const certificate = await new EncryptionCertificateStore(db, oldBox).create(org.id, now);
    await new SubscriptionStore(db, oldBox).save(
      {
        id: "sub-1",
        orgId: org.id,
        resource: "/me/chats/getAllMessages",
        changeType: "created",
        clientState: "client-state-value",
        includeResourceData: true,
        encryptionCertificateId: certificate.id,
        expiresAt: now + 86_400_000,
      },
      now,
    );
    const channel = await new AlertChannelStore(db, oldBox).create(
      {
        orgId: org.id,
        type: "webhook",
        name: "Desk",
        enabled: true,
        settings: { url: "https://hooks.example.com/a" },
        secrets: { signingSecret: "whsec_value" },
      },
      now,
    );
    const delivery = aDelivery(org.id, now, { channelId: channel.id });
    await new AlertOutboxStore(db, engine, oldBox).enqueue([delivery]);
    return async (box: SecretBox) => [
      await new OrgStore(db, box, clock).readClientSecret(org.id),
      await new TokenCacheStore(db, box, clock).persistenceFor(org.id).load(),
      (await new PendingAuthStore(db, box).take("state-1"))?.codeVerifier,
      (await new EncryptionCertificateStore(db, box).resolve(certificate.id))?.privateKeyPem.slice(0, 27),
      (await new SubscriptionStore(db, box).find("sub-1"))?.clientState,
      (await new AlertChannelStore(db, box).withSecrets(channel.id))?.target.secrets?.signingSecret,
      (await new AlertOutboxStore(db, engine, box).message(delivery.id))?.title,
    ];
  }

  it("re-seals every sealed column: the new key opens all of it, the old key none", async (t) => {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    const read = await fill(database.db);
    const counts = await rotateEncryptionKey(database.db, oldBox, newBox);
    assert.deepEqual(
      Object.values(counts),
      SEALED_COLUMNS.map(() => 1),
      JSON.stringify(counts),
    );
    await verifyEncryptionKey(database.db, newBox, clock.now());
    await assert.rejects(verifyEncryptionKey(database.db, oldBox, clock.now()), { code: "ERR_CONFIG" });
    await assert.rejects(
      new OrgStore(database.db, oldBox, clock).readClientSecret((await firstOrgId(database.db))!),
      {
        code: "ERR_SECRET_UNREADABLE",
      },
    );
    const values = await read(newBox);
    assert.deepEqual(values, [
      "client-secret-value",
      '{"refresh":"token-value"}',
      "verifier-value",
      "-----BEGIN PRIVATE KEY-----",
      "client-state-value",
      "whsec_value",
      values[6],
    ]);
    assert.ok(values[6], "the alert message opens");
  });

  it("changes nothing when one value does not open with the current key", async (t) => {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    const read = await fill(database.db);
    // A channel whose secrets were sealed with some other key (restored from elsewhere, or tampered).
    const stray = createSecretBox(randomBytes(32));
    const orgId = (await firstOrgId(database.db))!;
    await new AlertChannelStore(database.db, stray).create(
      {
        orgId,
        type: "webhook",
        name: "Stray",
        enabled: true,
        settings: { url: "https://x.example.com" },
        secrets: { signingSecret: "s" },
      },
      clock.now(),
    );
    await assert.rejects(rotateEncryptionKey(database.db, oldBox, newBox), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.match(
        error.message,
        /alert_channels\.secrets_ciphertext of row ch_[0-9a-f]+ .*nothing was changed/,
      );
      return true;
    });
    assert.equal((await read(oldBox))[0], "client-secret-value", "still sealed with the old key");
    await verifyEncryptionKey(database.db, oldBox, clock.now());
  });

  it("knows every *_ciphertext column of the schema", async (t) => {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    const listed = SEALED_COLUMNS.filter((c) => c.table !== "kv")
      .map((c) => `${c.table}.${c.column}`)
      .sort();
    assert.deepEqual(await ciphertextColumns(database.db, engine), listed);
  });
});

async function firstOrgId(db: Kysely<Database>): Promise<string | undefined> {
  return (await db.selectFrom("orgs").select("id").executeTakeFirst())?.id;
}

async function ciphertextColumns(db: Kysely<Database>, engine: Engine): Promise<string[]> {
  if (engine === "postgres") {
    const { rows } = await sql<{ name: string }>`
      select table_name || '.' || column_name as name from information_schema.columns
      where table_schema = current_schema() and column_name like '%\\_ciphertext'`.execute(db);
    return rows.map((r) => r.name).sort();
  }
  const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db);
  const found: string[] = [];
  for (const { name } of tables.rows) {
    const columns = await sql<{ name: string }>`select name from pragma_table_info(${name})`.execute(db);
    for (const column of columns.rows)
      if (column.name.endsWith("_ciphertext")) found.push(`${name}.${column.name}`);
  }
  return found.sort();
}
