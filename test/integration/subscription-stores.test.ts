import assert from "node:assert/strict";
import crypto, { randomUUID } from "node:crypto";
import { after, before, it } from "node:test";
import { EncryptionCertificateStore } from "../../src/storage/encryption-certificate-store.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { SubscriptionStore } from "../../src/storage/subscription-store.ts";
import { certificateThumbprint } from "../../src/microsoft/encryption-certificate.ts";
import { forEachEngine, openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

const DAY = 86_400_000;

forEachEngine("subscription and certificate stores", (engine) => {
  let database: TestDatabase;
  let subscriptions: SubscriptionStore;
  let certificates: EncryptionCertificateStore;
  let orgId: string;
  let otherOrgId: string;
  const clock = new FakeClock();
  const box = createSecretBox(Buffer.alloc(32, 3));

  before(async () => {
    database = await openTestDatabase(engine);
    subscriptions = new SubscriptionStore(database.db, box);
    certificates = new EncryptionCertificateStore(database.db, box);
    const orgs = new OrgStore(database.db, box, clock);
    orgId = (await orgs.create({ name: "A" })).id;
    otherOrgId = (await orgs.create({ name: "B" })).id;
  });
  after(() => database.close());

  it("a pending creation keeps its clientState across attempts and becomes the subscription Graph confirmed", async () => {
    const now = clock.now();
    const pending = {
      orgId,
      clientState: "chosen-before-the-post-0123456789",
      resource: "/me/chats/getAllMessages",
      changeType: "created,updated",
      includeResourceData: true,
      encryptionCertificateId: "relay-cert-1",
      requestedExpiresAt: now + 70 * 3_600_000,
    };
    await subscriptions.savePending(pending, now);
    await subscriptions.recordPendingError(orgId, "create: POST /v1.0/subscriptions: 503", now + 1);
    await subscriptions.savePending({ ...pending, encryptionCertificateId: "relay-cert-2" }, now + 2);
    const read = await subscriptions.pending(orgId);
    assert.equal(read?.clientState, pending.clientState);
    assert.equal(read?.encryptionCertificateId, "relay-cert-2");
    assert.match(read!.lastError!, /503/, "the failure survives the next attempt's save");
    assert.deepEqual(await subscriptions.listByOrg(orgId), [], "pending rows are not subscriptions");

    const id = randomUUID();
    const promoted = await subscriptions.promotePending(
      orgId,
      {
        id,
        resource: pending.resource,
        changeType: pending.changeType,
        includeResourceData: true,
        encryptionCertificateId: "relay-cert-2",
        expiresAt: now + 69 * 3_600_000,
      },
      now + 3,
    );
    assert.equal(promoted.id, id);
    assert.equal(promoted.state, "active");
    assert.equal(await subscriptions.pending(orgId), undefined);
    assert.deepEqual(await subscriptions.find(id), {
      id,
      orgId,
      clientState: pending.clientState,
      includeResourceData: true,
    });
    const [listed] = await subscriptions.listByOrg(orgId);
    assert.equal(listed?.expiresAt, now + 69 * 3_600_000);

    // Sealed, and bound to its row: the ciphertext copied to another row does not open.
    const row = await database.db
      .selectFrom("subscriptions")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    assert.ok(!row.client_state_ciphertext.includes(pending.clientState));
    const otherId = randomUUID();
    await subscriptions.save(
      { ...promoted, id: otherId, orgId: otherOrgId, clientState: "other-state" },
      now,
    );
    await database.db
      .updateTable("subscriptions")
      .set({ client_state_ciphertext: row.client_state_ciphertext })
      .where("id", "=", otherId)
      .execute();
    await assert.rejects(subscriptions.find(otherId), { code: "ERR_SECRET_UNREADABLE" });
    await subscriptions.markRemoved(otherId, now);
  });

  it("updates, touches and removal", async () => {
    const now = clock.now();
    const id = randomUUID();
    await subscriptions.save(
      {
        id,
        orgId: otherOrgId,
        resource: "/me/chats/getAllMessages",
        changeType: "created,updated",
        clientState: "s",
        includeResourceData: false,
        encryptionCertificateId: null,
        expiresAt: now + DAY,
      },
      now,
    );
    await subscriptions.update(id, { state: "failing", lastError: "renewal: 500" }, now + 1);
    await subscriptions.touchNotification(id, now + 10);
    await subscriptions.touchNotification(id, now + 5);
    let [s] = await subscriptions.listByOrg(otherOrgId);
    assert.equal(s?.state, "failing");
    assert.equal(s?.lastError, "renewal: 500");
    assert.equal(s?.lastNotificationAt, now + 10, "never moves back");
    assert.equal((await subscriptions.find(id))?.includeResourceData, false);
    await subscriptions.update(
      id,
      { state: "active", lastError: null, lastRenewedAt: now + 20, expiresAt: now + 2 * DAY },
      now + 20,
    );
    [s] = await subscriptions.listByOrg(otherOrgId);
    assert.deepEqual(
      [s?.state, s?.lastError, s?.lastRenewedAt, s?.expiresAt],
      ["active", null, now + 20, now + 2 * DAY],
    );
    await subscriptions.markRemoved(id, now + 30);
    assert.equal(await subscriptions.find(id), undefined);
    assert.deepEqual(await subscriptions.listByOrg(otherOrgId), []);
    assert.equal((await subscriptions.listByOrg(otherOrgId, { includeRemoved: true })).length, 2);
  });

  it("certificates: created per org with a sealed key, current until retired, and retired ones still resolve", async () => {
    const now = clock.now();
    const first = await certificates.create(orgId, now);
    assert.match(first.id, new RegExp(`^relay-${orgId}-[0-9a-f]{24}$`));
    assert.ok(first.id.length <= 128);
    assert.equal(first.thumbprint, certificateThumbprint(first.certificateDerBase64));
    const x509 = new crypto.X509Certificate(Buffer.from(first.certificateDerBase64, "base64"));
    assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(Date.parse(x509.validTo), first.notAfter);
    assert.ok(first.notAfter >= now + 364 * DAY);
    assert.equal((await certificates.current(orgId))?.id, first.id);
    assert.equal(await certificates.current(otherOrgId), undefined);

    const key = await certificates.resolve(first.id);
    assert.equal(key?.orgId, orgId);
    assert.equal(key?.thumbprint, first.thumbprint);
    // The key belongs to the certificate.
    const secret = crypto.randomBytes(32);
    const wrapped = crypto.publicEncrypt({ key: x509.publicKey, oaepHash: "sha1" }, secret);
    assert.deepEqual(crypto.privateDecrypt({ key: key!.privateKeyPem, oaepHash: "sha1" }, wrapped), secret);
    const row = await database.db
      .selectFrom("encryption_certificates")
      .selectAll()
      .where("id", "=", first.id)
      .executeTakeFirstOrThrow();
    assert.ok(!row.private_key_ciphertext.includes("PRIVATE KEY"));

    clock.advance(1000);
    const second = await certificates.create(orgId, clock.now());
    await certificates.retire(first.id, clock.now());
    assert.equal((await certificates.current(orgId))?.id, second.id);
    assert.equal((await certificates.resolve(first.id))?.orgId, orgId, "retired keys keep decrypting");
    assert.deepEqual(
      (await certificates.list(orgId)).map((c) => [c.id, c.retiredAt]),
      [
        [second.id, null],
        [first.id, clock.now()],
      ],
    );
    assert.equal(await certificates.resolve("relay-unknown"), undefined);
  });
});
