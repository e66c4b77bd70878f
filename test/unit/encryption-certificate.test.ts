import assert from "node:assert/strict";
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  certificateThumbprint,
  createSelfSignedEncryptionCertificate,
} from "../../src/microsoft/encryption-certificate.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/graph-sdk-rich-notification/${name}`, import.meta.url), "utf8");

describe("encryption certificate", () => {
  it("the thumbprint is the upper-case hex SHA-1 of the DER, as Graph sends encryptionCertificateThumbprint", () => {
    const certificate = new crypto.X509Certificate(fixture("certificate.pem"));
    const expected = JSON.parse(fixture("encrypted-content.json")).encryptionCertificateThumbprint;
    assert.equal(certificateThumbprint(certificate.raw), expected);
    assert.equal(certificateThumbprint(certificate.raw.toString("base64")), expected);
  });

  it("creates a self-signed RSA-2048 certificate valid from `now`, whose key unwraps what its public key wrapped", async () => {
    const now = Date.parse("2026-11-27T09:00:00.000Z");
    const created = await createSelfSignedEncryptionCertificate({
      commonName: "relay-test",
      now,
      validDays: 365,
    });
    const x509 = new crypto.X509Certificate(Buffer.from(created.base64Der, "base64"));
    assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(Date.parse(x509.validTo), created.notAfter);
    assert.equal(created.notAfter, now + 365 * 86_400_000);
    assert.ok(Date.parse(x509.validFrom) <= now);
    assert.equal(created.thumbprint, certificateThumbprint(x509.raw));
    assert.equal(created.base64Der, created.certificatePem.replace(/-----[^-]+-----|\s/g, ""));
    const secret = crypto.randomBytes(32);
    const wrapped = crypto.publicEncrypt({ key: x509.publicKey, oaepHash: "sha1" }, secret);
    assert.deepEqual(
      crypto.privateDecrypt({ key: created.privateKeyPem, oaepHash: "sha1" }, wrapped),
      secret,
    );
  });
});
