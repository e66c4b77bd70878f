import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { RelayError } from "../core/errors.ts";
import type { SecretBox } from "../core/secret-box.ts";

// Envelope: `v1.<keyId>.<iv>.<tag>.<ciphertext>`, base64url parts. AES-256-GCM with a fresh 96-bit IV per seal
// and the caller's `aad` (the value's place, `table:column:rowId`) authenticated but not stored. The key id is
// the first 8 hex characters of SHA-256(key): enough to tell "sealed under another key" from "tampered" (and to
// pick a key once several are configured for rotation), and it reveals nothing usable about the key.

const VERSION = "v1";
const ALGORITHM = "aes-256-gcm";
export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const KEY_ID = /^[0-9a-f]{8}$/;

/** The id an envelope sealed with `key` carries. */
export function secretKeyId(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

export function createSecretBox(key: Buffer): SecretBox {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new RelayError("ERR_CONFIG", `The encryption key must be exactly ${KEY_BYTES} bytes`);
  }
  // A private copy: a caller zeroing or reusing its buffer must not change what we seal with.
  const ownKey = Buffer.from(key);
  const keyId = secretKeyId(ownKey);

  return {
    seal(plaintext: string, aad: string): string {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, ownKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(aad, "utf8"));
      const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, keyId, iv, tag, ciphertext]
        .map((part) => (typeof part === "string" ? part : part.toString("base64url")))
        .join(".");
    },

    open(envelope: string, aad: string): string {
      const unreadable = (why: string): RelayError =>
        new RelayError("ERR_SECRET_UNREADABLE", `Cannot open the secret stored for ${aad}: ${why}`);

      const parts = typeof envelope === "string" ? envelope.split(".") : [];
      const [version, envelopeKeyId, ivText, tagText, ciphertextText] = parts;
      if (
        parts.length !== 5 ||
        version !== VERSION ||
        envelopeKeyId === undefined ||
        !KEY_ID.test(envelopeKeyId) ||
        [ivText, tagText, ciphertextText].some((p) => p === undefined || !BASE64URL.test(p))
      ) {
        throw unreadable(`malformed envelope (expected ${VERSION}.<keyId>.<iv>.<tag>.<ciphertext>)`);
      }
      const iv = Buffer.from(ivText!, "base64url");
      const tag = Buffer.from(tagText!, "base64url");
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
        throw unreadable(`malformed envelope (IV must be ${IV_BYTES} bytes, tag ${TAG_BYTES} bytes)`);
      }
      if (envelopeKeyId !== keyId) {
        throw unreadable(
          `different key id: sealed with key ${envelopeKeyId}, this relay's key is ${keyId} ` +
            "(RELAY_ENCRYPTION_KEY or the data directory's encryption.key changed)",
        );
      }
      try {
        const decipher = createDecipheriv(ALGORITHM, ownKey, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(aad, "utf8"));
        decipher.setAuthTag(tag);
        const plaintext = Buffer.concat([
          decipher.update(Buffer.from(ciphertextText!, "base64url")),
          decipher.final(),
        ]);
        return plaintext.toString("utf8");
      } catch {
        // node's message ("Unsupported state or unable to authenticate data") adds nothing; no cause, so nothing
        // about the data can surface through a logged error chain.
        throw unreadable("authentication failed (tampered, or sealed for another place)");
      }
    },
  };
}
