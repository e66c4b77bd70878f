import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { before, describe, it } from "node:test";
import {
  assertGraphEncryptionKey,
  decryptResourceData,
  encryptResourceData,
  parseEncryptionCertificate,
  type EncryptedContent,
} from "../../emulator/delivery/rich-notification-crypto.ts";
import { createLocalCa } from "../../emulator/tls/local-ca.ts";
import { createSelfSignedEncryptionCertificate } from "../../src/microsoft/encryption-certificate.ts";
import {
  decryptRichNotification,
  type NotificationKeyring,
} from "../../src/microsoft/decrypt-rich-notification.ts";

const fixture = (name: string) =>
  fs.readFileSync(new URL(`../fixtures/graph-sdk-rich-notification/${name}`, import.meta.url));
const vector: EncryptedContent = JSON.parse(fixture("encrypted-content.json").toString("utf8"));
const expected = JSON.parse(fixture("expected.json").toString("utf8"));
const expectedPlaintext = fixture("expected-plaintext.json");
const expectedKeyHex = fixture("expected-symmetric-key.hex").toString("utf8").trim();
const vectorKeyPem = fixture("private-key.pkcs8.pem").toString("utf8");
const vectorCertPem = fixture("certificate.pem").toString("utf8");

const vectorKeyring: NotificationKeyring = {
  resolve: (id) =>
    id === "custom-id-for-testing"
      ? { privateKey: vectorKeyPem, thumbprint: "4B95353E086AD37196606ACF834A14532F03E6DB" }
      : undefined,
};

function unwrapSha1(content: EncryptedContent, keyPem: string): Buffer {
  return crypto.privateDecrypt(
    { key: keyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
    Buffer.from(content.dataKey, "base64"),
  );
}

function flipByte(base64: string, index: number): string {
  const bytes = Buffer.from(base64, "base64");
  bytes[index] = bytes[index]! ^ 0x01;
  return bytes.toString("base64");
}

describe("Graph SDK vector", () => {
  it("decrypts byte-for-byte with the emulator module", () => {
    assert.equal(unwrapSha1(vector, vectorKeyPem).toString("hex"), expectedKeyHex);
    const plaintext = decryptResourceData(vector, vectorKeyPem);
    assert.ok(plaintext.equals(expectedPlaintext));
    assert.equal(
      crypto.createHash("sha256").update(plaintext).digest("hex"),
      expected.derived.plaintextSha256,
    );
    const message = JSON.parse(plaintext.toString("utf8"));
    assert.equal(message.etag, "1625126194597");
    assert.equal(message.body.content, "Hello World");
    assert.equal(message.body.contentType, "text");
  });

  it("decrypts with the service module even though the certificate expired in 2023", async () => {
    assert.ok(Date.parse(new crypto.X509Certificate(vectorCertPem).validTo) < Date.now());
    const message = (await decryptRichNotification(vector, vectorKeyring)) as Record<string, any>;
    assert.deepEqual(message, JSON.parse(expectedPlaintext.toString("utf8")));
    assert.equal(message.etag, "1625126194597");
    assert.equal(message.body.content, "Hello World");
    assert.equal(message.chatId, null);
  });

  it("thumbprint is the upper-case SHA-1 of the certificate DER", () => {
    const cert = parseEncryptionCertificate(vectorCertPem);
    assert.equal(cert.fingerprint.replaceAll(":", ""), vector.encryptionCertificateThumbprint);
  });

  it("wraps the key with OAEP SHA-1: OAEP SHA-256 fails on the vector", () => {
    assert.throws(
      () =>
        crypto.privateDecrypt(
          { key: vectorKeyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
          Buffer.from(vector.dataKey, "base64"),
        ),
      /oaep decoding error/i,
    );
  });

  it("signs the decoded ciphertext, not its base64 text", () => {
    const key = Buffer.from(expectedKeyHex, "hex");
    const overBytes = crypto
      .createHmac("sha256", key)
      .update(Buffer.from(vector.data, "base64"))
      .digest("base64");
    const overText = crypto.createHmac("sha256", key).update(vector.data, "utf8").digest("base64");
    assert.equal(overBytes, vector.dataSignature);
    assert.equal(overText, expected.derived.hmacSha256OverBase64TextWRONGBase64);
    assert.notEqual(overText, vector.dataSignature);
  });
});

describe("negative cases (service module)", () => {
  const rejects = (content: unknown, code: string, keyring = vectorKeyring) =>
    assert.rejects(decryptRichNotification(content, keyring), (error: Error & { code?: string }) => {
      assert.equal(error.code, code);
      assert.doesNotMatch(error.message, /BEGIN|PRIVATE|[0-9a-f]{32}/);
      return true;
    });

  it("a flipped ciphertext byte fails the signature check before any decryption", async () => {
    await rejects({ ...vector, data: flipByte(vector.data, 0) }, "ERR_NOTIFICATION_SIGNATURE_MISMATCH");
    // Proof that decryption never ran: the same corrupted ciphertext, correctly re-signed, fails decryption
    // (its padding is broken), so had it been decrypted first the code would have been DECRYPT_FAILED.
    const key = Buffer.from(expectedKeyHex, "hex");
    const broken = Buffer.from(vector.data, "base64").subarray(0, -1);
    const brokenData = broken.toString("base64");
    const validSignature = crypto.createHmac("sha256", key).update(broken).digest("base64");
    await rejects(
      { ...vector, data: brokenData, dataSignature: validSignature },
      "ERR_NOTIFICATION_DECRYPT_FAILED",
    );
    await rejects({ ...vector, data: brokenData }, "ERR_NOTIFICATION_SIGNATURE_MISMATCH");
  });

  it("a signature over the base64 text is a mismatch", async () => {
    const wrong = expected.derived.hmacSha256OverBase64TextWRONGBase64;
    await rejects({ ...vector, dataSignature: wrong }, "ERR_NOTIFICATION_SIGNATURE_MISMATCH");
  });

  it("an unknown certificate id or a mismatched thumbprint is an unknown certificate", async () => {
    await rejects(
      { ...vector, encryptionCertificateId: "someone-else" },
      "ERR_NOTIFICATION_UNKNOWN_CERTIFICATE",
    );
    await rejects(
      { ...vector, encryptionCertificateThumbprint: "00".repeat(20) },
      "ERR_NOTIFICATION_UNKNOWN_CERTIFICATE",
    );
    // Graph's upper case is not required: lower case with colons still matches.
    const lower = vector.encryptionCertificateThumbprint.toLowerCase().replace(/(..)(?!$)/g, "$1:");
    assert.ok(
      await decryptRichNotification({ ...vector, encryptionCertificateThumbprint: lower }, vectorKeyring),
    );
  });

  it("a corrupted dataKey fails the key unwrap", async () => {
    await rejects({ ...vector, dataKey: flipByte(vector.dataKey, 10) }, "ERR_NOTIFICATION_KEY_UNWRAP_FAILED");
  });

  it("the wrong private key fails the key unwrap", async () => {
    const other = await createSelfSignedEncryptionCertificate({ commonName: "other" });
    await rejects(vector, "ERR_NOTIFICATION_KEY_UNWRAP_FAILED", {
      resolve: () => ({ privateKey: other.privateKeyPem }),
    });
  });

  it("missing or non-base64 fields are malformed", async () => {
    await rejects(null, "ERR_NOTIFICATION_MALFORMED");
    const { dataSignature: _omitted, ...withoutSignature } = vector;
    await rejects(withoutSignature, "ERR_NOTIFICATION_MALFORMED");
    await rejects(
      { ...vector, data: `${vector.data.slice(0, 8)}!${vector.data.slice(9)}` },
      "ERR_NOTIFICATION_MALFORMED",
    );
    await rejects({ ...vector, encryptionCertificateId: "" }, "ERR_NOTIFICATION_MALFORMED");
  });

  it("a keyring failure propagates unchanged so the receiver can answer 5xx", async () => {
    const outage = new Error("storage down");
    await assert.rejects(
      decryptRichNotification(vector, {
        resolve: () => Promise.reject(outage),
      }),
      (error) => error === outage,
    );
  });
});

describe("emulator encryption round trip", () => {
  let client: Awaited<ReturnType<typeof createSelfSignedEncryptionCertificate>>;
  const resource = {
    id: "1700000000000",
    etag: "1700000000000",
    body: { contentType: "text", content: "911 🚨" },
  };

  before(async () => {
    client = await createSelfSignedEncryptionCertificate({ commonName: "relay-test" });
  });

  it("the service module decrypts what the emulator encrypts", async () => {
    const content = encryptResourceData({
      resource,
      encryptionCertificate: client.base64Der,
      encryptionCertificateId: "cert-1",
    });
    const thumbprint = new crypto.X509Certificate(Buffer.from(client.base64Der, "base64")).fingerprint;
    assert.equal(content.encryptionCertificateThumbprint, thumbprint.replaceAll(":", ""));
    const keyring: NotificationKeyring = {
      resolve: (id) =>
        id === "cert-1"
          ? { privateKey: client.privateKeyPem, thumbprint: content.encryptionCertificateThumbprint }
          : undefined,
    };
    assert.deepEqual(await decryptRichNotification(content, keyring), resource);
    assert.deepEqual(
      JSON.parse(decryptResourceData(content, client.privateKeyPem).toString("utf8")),
      resource,
    );
  });

  it("follows Graph's layout: OAEP SHA-1 key, IV = key prefix, HMAC over decoded bytes, fresh key per item", () => {
    const content = encryptResourceData({
      resource: "plain text resource",
      encryptionCertificate: client.certificatePem,
      encryptionCertificateId: "cert-1",
    });
    const key = unwrapSha1(content, client.privateKeyPem);
    assert.equal(key.length, 32);
    assert.throws(() =>
      crypto.privateDecrypt(
        { key: client.privateKeyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
        Buffer.from(content.dataKey, "base64"),
      ),
    );
    const ciphertext = Buffer.from(content.data, "base64");
    assert.equal(content.dataSignature, crypto.createHmac("sha256", key).update(ciphertext).digest("base64"));
    const decipher = crypto.createDecipheriv("aes-256-cbc", key, key.subarray(0, 16));
    assert.equal(
      Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8"),
      "plain text resource",
    );

    const again = encryptResourceData({
      resource: "plain text resource",
      encryptionCertificate: client.base64Der,
      encryptionCertificateId: "cert-1",
    });
    assert.notEqual(again.data, content.data);
    assert.notDeepEqual(unwrapSha1(again, client.privateKeyPem), key);
  });

  it("the emulator decryptor checks the HMAC before decrypting", () => {
    const content = encryptResourceData({
      resource,
      encryptionCertificate: client.base64Der,
      encryptionCertificateId: "x",
    });
    assert.throws(
      () => decryptResourceData({ ...content, data: flipByte(content.data, 3) }, client.privateKeyPem),
      {
        code: "ERR_SIGNATURE_MISMATCH",
      },
    );
    assert.throws(
      () => decryptResourceData({ ...content, dataKey: flipByte(content.dataKey, 3) }, client.privateKeyPem),
      {
        code: "ERR_KEY_UNWRAP_FAILED",
      },
    );
  });
});

describe("encryptionCertificate checks", () => {
  it("accepts base64 DER and PEM, and parses to the same certificate", async () => {
    const client = await createSelfSignedEncryptionCertificate({ commonName: "relay-test" });
    const fromDer = parseEncryptionCertificate(client.base64Der);
    const fromPem = parseEncryptionCertificate(client.certificatePem);
    assert.ok(fromDer.raw.equals(fromPem.raw));
    assert.doesNotThrow(() => assertGraphEncryptionKey(fromDer));
  });

  it("rejects junk with a 400 that does not echo the input", () => {
    for (const junk of ["", "   ", "not base64 at all!", "AAAA", 42, undefined]) {
      assert.throws(
        () => parseEncryptionCertificate(junk),
        (error: Error & { status?: number; code?: string }) => {
          assert.equal(error.status, 400);
          assert.equal(error.code, "ERR_ENCRYPTION_CERTIFICATE_INVALID");
          assert.doesNotMatch(error.message, /not base64 at all/);
          return true;
        },
      );
    }
    assert.throws(() => parseEncryptionCertificate(vectorKeyPem), /never a private key/);
  });

  it("rejects keys outside Graph's RSA 2048-4096 rule", async () => {
    const small = await createSelfSignedEncryptionCertificate({ commonName: "small", bits: 1024 });
    assert.throws(() => assertGraphEncryptionKey(parseEncryptionCertificate(small.base64Der)), {
      status: 400,
      code: "ERR_ENCRYPTION_CERTIFICATE_KEY_REJECTED",
      message: /2048 to 4096 bits, got 1024/,
    });
    assert.throws(
      () =>
        encryptResourceData({
          resource: {},
          encryptionCertificate: small.base64Der,
          encryptionCertificateId: "x",
        }),
      { code: "ERR_ENCRYPTION_CERTIFICATE_KEY_REJECTED" },
    );
    const { certPem } = await createLocalCa();
    assert.throws(
      () => assertGraphEncryptionKey(parseEncryptionCertificate(certPem)),
      /must carry an RSA key, not ec/,
    );
    // The expired 4096-bit vector certificate is fine: Graph checks neither dates nor issuer.
    assert.doesNotThrow(() => assertGraphEncryptionKey(parseEncryptionCertificate(vectorCertPem)));
  });
});
