// Graph's rich-notification crypto, done the way Graph does it when it delivers a notification with resource data.
// Protocol: https://learn.microsoft.com/en-us/graph/change-notifications-with-resource-data ("Decrypting resource data")
// Fields:   https://learn.microsoft.com/en-us/graph/api/resources/changenotificationencryptedcontent
// The emulator imports nothing from src/, so the service's decryptor is an independent second implementation.
import crypto from "node:crypto";

/** `changeNotificationEncryptedContent` as it appears in a notification's `encryptedContent`. */
export interface EncryptedContent {
  data: string;
  dataKey: string;
  dataSignature: string;
  encryptionCertificateId: string;
  encryptionCertificateThumbprint: string;
}

export interface EncryptResourceDataInput {
  /** The resource as Graph would return it from GET; objects are serialized with JSON.stringify. */
  resource: object | string;
  /** The subscription's `encryptionCertificate` (base64 DER, PEM tolerated) or an already parsed certificate. */
  encryptionCertificate: string | crypto.X509Certificate;
  encryptionCertificateId: string;
}

/** Why a subscription's `encryptionCertificate` is refused; the subscription API answers it with a 400. */
export class EncryptionCertificateError extends Error {
  override readonly name = "EncryptionCertificateError";
  readonly status = 400;
  readonly code: "ERR_ENCRYPTION_CERTIFICATE_INVALID" | "ERR_ENCRYPTION_CERTIFICATE_KEY_REJECTED";

  constructor(code: EncryptionCertificateError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

const MAX_CERTIFICATE_CHARS = 64 * 1024;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/;

/**
 * Parses what a client sends in `encryptionCertificate`: the base64 of the DER certificate ("the PEM body without
 * armour lines"), though PEM armour and line breaks are tolerated. Messages never echo the input.
 */
export function parseEncryptionCertificate(value: unknown): crypto.X509Certificate {
  const invalid = (message: string) =>
    new EncryptionCertificateError("ERR_ENCRYPTION_CERTIFICATE_INVALID", message);
  if (typeof value !== "string" || value.trim() === "") throw invalid("encryptionCertificate is required");
  if (value.length > MAX_CERTIFICATE_CHARS) throw invalid("encryptionCertificate is too large");
  if (value.includes("PRIVATE KEY")) {
    throw invalid("encryptionCertificate must hold the public certificate only, never a private key");
  }
  const body = (PEM_CERTIFICATE.exec(value)?.[1] ?? value).replace(/\s+/g, "");
  if (!BASE64.test(body) || body.length % 4 !== 0) {
    throw invalid("encryptionCertificate is not base64 (expected the base64 of a DER X.509 certificate)");
  }
  try {
    return new crypto.X509Certificate(Buffer.from(body, "base64"));
  } catch {
    throw invalid("encryptionCertificate is not a DER X.509 certificate");
  }
}

/**
 * Graph's rule for the key: RSA, 2048 to 4096 bits. Issuer, chain and validity dates are not checked, because
 * "Microsoft Graph doesn't verify the certificate issuer" and only uses the public key.
 */
export function assertGraphEncryptionKey(certificate: crypto.X509Certificate): void {
  const key = certificate.publicKey;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== "rsa" || bits === undefined) {
    throw new EncryptionCertificateError(
      "ERR_ENCRYPTION_CERTIFICATE_KEY_REJECTED",
      `encryptionCertificate must carry an RSA key, not ${key.asymmetricKeyType ?? "an unknown key type"}`,
    );
  }
  if (bits < 2048 || bits > 4096) {
    throw new EncryptionCertificateError(
      "ERR_ENCRYPTION_CERTIFICATE_KEY_REJECTED",
      `encryptionCertificate RSA key must be 2048 to 4096 bits, got ${bits}`,
    );
  }
}

/** `encryptionCertificateThumbprint`: upper-case hex SHA-1 of the certificate DER. */
export function certificateThumbprint(certificate: crypto.X509Certificate): string {
  return crypto.createHash("sha1").update(certificate.raw).digest("hex").toUpperCase();
}

export function encryptResourceData(input: EncryptResourceDataInput): EncryptedContent {
  const certificate =
    typeof input.encryptionCertificate === "string"
      ? parseEncryptionCertificate(input.encryptionCertificate)
      : input.encryptionCertificate;
  assertGraphEncryptionKey(certificate);
  const plaintext = Buffer.from(
    typeof input.resource === "string" ? input.resource : JSON.stringify(input.resource),
    "utf8",
  );
  // "Always assume that the symmetric key is different for each item": a fresh AES-256 key per notification item.
  const key = crypto.randomBytes(32);
  // Graph sends no IV: it is the first 16 bytes of the key itself.
  const cipher = crypto.createCipheriv("aes-256-cbc", key, key.subarray(0, 16));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  // "RSA/ECB/OAEPWithSHA1AndMGF1Padding": OAEP with SHA-1 for both the label hash and MGF1.
  const dataKey = crypto.publicEncrypt(
    { key: certificate.publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
    key,
  );
  // The HMAC covers the ciphertext bytes, not their base64 text and not the plaintext.
  const signature = crypto.createHmac("sha256", key).update(ciphertext).digest();
  return {
    data: ciphertext.toString("base64"),
    dataKey: dataKey.toString("base64"),
    dataSignature: signature.toString("base64"),
    encryptionCertificateId: input.encryptionCertificateId,
    encryptionCertificateThumbprint: certificateThumbprint(certificate),
  };
}

/** The inverse, as a Graph client does it: unwrap, check the HMAC in constant time, and only then decrypt. */
export function decryptResourceData(
  encryptedContent: EncryptedContent,
  privateKey: string | crypto.KeyObject,
): Buffer {
  let key: Buffer;
  try {
    key = crypto.privateDecrypt(
      { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      Buffer.from(encryptedContent.dataKey, "base64"),
    );
  } catch {
    throw codedError("ERR_KEY_UNWRAP_FAILED", "dataKey could not be unwrapped with this private key");
  }
  if (key.length !== 32) throw codedError("ERR_KEY_UNWRAP_FAILED", "dataKey is not an AES-256 key");
  const ciphertext = Buffer.from(encryptedContent.data, "base64");
  const expected = crypto.createHmac("sha256", key).update(ciphertext).digest();
  const actual = Buffer.from(encryptedContent.dataSignature, "base64");
  // "If they do not match, assume the payload has been tampered with and do not decrypt it."
  if (actual.length !== expected.length || !crypto.timingSafeEqual(actual, expected)) {
    throw codedError("ERR_SIGNATURE_MISMATCH", "dataSignature does not match data");
  }
  try {
    const decipher = crypto.createDecipheriv("aes-256-cbc", key, key.subarray(0, 16));
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw codedError("ERR_DECRYPT_FAILED", "data could not be decrypted");
  }
}

function codedError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}
