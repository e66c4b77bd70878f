// Decrypts the `encryptedContent` of a Graph change notification with resource data.
// Protocol: https://learn.microsoft.com/en-us/graph/change-notifications-with-resource-data ("Decrypting resource data")
// Fields:   https://learn.microsoft.com/en-us/graph/api/resources/changenotificationencryptedcontent
// Certificate validity dates play no part: Graph never checks them and keeps using a certificate after rotation.
// The HMAC proves integrity only (anyone holding the public certificate can produce valid content); authenticity
// comes from the notification's `validationTokens`, checked elsewhere.
import crypto from "node:crypto";
import { NotificationCryptoError } from "./notification-crypto-error.ts";

export interface NotificationDecryptionKey {
  /** PKCS#8 or PKCS#1 PEM, or a KeyObject, of the certificate registered under this id. */
  privateKey: string | crypto.KeyObject;
  /** Upper-case hex SHA-1 of the certificate DER; when set, the notification's thumbprint must match it. */
  thumbprint?: string;
}

/** Finds a private key by the `encryptionCertificateId` given at subscription time (old ones kept during rotation). */
export interface NotificationKeyring {
  /** Resolves undefined for an unknown id; a rejection (storage down) propagates unchanged so the caller can 5xx. */
  resolve(
    encryptionCertificateId: string,
  ): NotificationDecryptionKey | undefined | Promise<NotificationDecryptionKey | undefined>;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export async function decryptRichNotification(
  encryptedContent: unknown,
  keyring: NotificationKeyring,
): Promise<unknown> {
  const content = readEncryptedContent(encryptedContent);
  const entry = await keyring.resolve(content.encryptionCertificateId);
  if (entry === undefined) {
    throw new NotificationCryptoError(
      "ERR_NOTIFICATION_UNKNOWN_CERTIFICATE",
      "no private key is registered for this encryptionCertificateId",
    );
  }
  // The thumbprint is a routing check only: it catches a key stored under the wrong id before any crypto runs.
  if (
    entry.thumbprint !== undefined &&
    content.encryptionCertificateThumbprint !== undefined &&
    normalizeThumbprint(entry.thumbprint) !== normalizeThumbprint(content.encryptionCertificateThumbprint)
  ) {
    throw new NotificationCryptoError(
      "ERR_NOTIFICATION_UNKNOWN_CERTIFICATE",
      "encryptionCertificateThumbprint does not match the certificate registered under this encryptionCertificateId",
    );
  }

  const key = unwrapKey(entry.privateKey, Buffer.from(content.dataKey, "base64"));
  const ciphertext = Buffer.from(content.data, "base64");
  // "If they do not match, assume the payload has been tampered with and do not decrypt it."
  const expected = crypto.createHmac("sha256", key).update(ciphertext).digest();
  const signature = Buffer.from(content.dataSignature, "base64");
  if (signature.length !== expected.length || !crypto.timingSafeEqual(signature, expected)) {
    throw new NotificationCryptoError(
      "ERR_NOTIFICATION_SIGNATURE_MISMATCH",
      "dataSignature does not match data",
    );
  }

  let plaintext: Buffer;
  try {
    // Graph transmits no IV: it is the first 16 bytes of the AES key. Padding is PKCS#7 ("AES/CBC/PKCS5PADDING").
    const decipher = crypto.createDecipheriv("aes-256-cbc", key, key.subarray(0, 16));
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new NotificationCryptoError("ERR_NOTIFICATION_DECRYPT_FAILED", "data could not be decrypted");
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plaintext));
  } catch {
    throw new NotificationCryptoError("ERR_NOTIFICATION_MALFORMED", "decrypted data is not UTF-8 JSON");
  }
}

interface EncryptedContentFields {
  data: string;
  dataKey: string;
  dataSignature: string;
  encryptionCertificateId: string;
  encryptionCertificateThumbprint: string | undefined;
}

function readEncryptedContent(value: unknown): EncryptedContentFields {
  if (typeof value !== "object" || value === null) {
    throw new NotificationCryptoError("ERR_NOTIFICATION_MALFORMED", "encryptedContent is not an object");
  }
  const record = value as Record<string, unknown>;
  // Buffer.from(…, "base64") silently skips junk characters, so the shape is checked before decoding.
  for (const field of ["data", "dataKey", "dataSignature"] as const) {
    const text = record[field];
    if (typeof text !== "string" || text === "" || !BASE64.test(text)) {
      throw new NotificationCryptoError(
        "ERR_NOTIFICATION_MALFORMED",
        `encryptedContent.${field} is missing or not base64`,
      );
    }
  }
  const id = record.encryptionCertificateId;
  if (typeof id !== "string" || id === "") {
    throw new NotificationCryptoError(
      "ERR_NOTIFICATION_MALFORMED",
      "encryptedContent.encryptionCertificateId is missing",
    );
  }
  const thumbprint = record.encryptionCertificateThumbprint;
  if (thumbprint !== undefined && typeof thumbprint !== "string") {
    throw new NotificationCryptoError(
      "ERR_NOTIFICATION_MALFORMED",
      "encryptedContent.encryptionCertificateThumbprint is not a string",
    );
  }
  return {
    data: record.data as string,
    dataKey: record.dataKey as string,
    dataSignature: record.dataSignature as string,
    encryptionCertificateId: id,
    encryptionCertificateThumbprint: thumbprint,
  };
}

function unwrapKey(privateKey: string | crypto.KeyObject, dataKey: Buffer): Buffer {
  let key: Buffer;
  try {
    // "RSA/ECB/OAEPWithSHA1AndMGF1Padding": OAEP with SHA-1 for the label hash and MGF1; SHA-256 fails on real data.
    key = crypto.privateDecrypt(
      { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      dataKey,
    );
  } catch {
    throw new NotificationCryptoError(
      "ERR_NOTIFICATION_KEY_UNWRAP_FAILED",
      "dataKey could not be unwrapped with the registered private key",
    );
  }
  if (key.length !== 32) {
    throw new NotificationCryptoError(
      "ERR_NOTIFICATION_KEY_UNWRAP_FAILED",
      "dataKey did not unwrap to an AES-256 key",
    );
  }
  return key;
}

function normalizeThumbprint(thumbprint: string): string {
  return thumbprint.replace(/[:\s]/g, "").toUpperCase();
}
