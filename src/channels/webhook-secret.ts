import { randomBytes } from "node:crypto";

// Standard Webhooks (spec/standard-webhooks.md, "Symmetric signatures"): a secret is `whsec_` and the base64 of
// 24 to 64 random bytes; the HMAC key is the decoded bytes, not the text.
const PREFIX = "whsec_";
const MIN_BYTES = 24;
const MAX_BYTES = 64;

export function generateWebhookSecret(): string {
  return `${PREFIX}${randomBytes(32).toString("base64")}`;
}

/** The key bytes of a `whsec_` secret, or null when the text is not one. */
export function webhookSecretKey(secret: string): Buffer | null {
  if (!secret.startsWith(PREFIX)) return null;
  const encoded = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return null;
  const key = Buffer.from(encoded, "base64");
  return key.length >= MIN_BYTES && key.length <= MAX_BYTES ? key : null;
}

export const WEBHOOK_SECRET_FORM = `whsec_ followed by the base64 of ${MIN_BYTES} to ${MAX_BYTES} random bytes`;
