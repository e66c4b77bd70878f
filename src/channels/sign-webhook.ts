import { createHmac } from "node:crypto";

/**
 * The `webhook-signature` header value: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with
 * the secret's bytes (Standard Webhooks, spec/standard-webhooks.md, "Signature scheme"). `body` must be the exact
 * bytes sent: receivers verify the raw body, never re-serialized JSON.
 */
export function signWebhook(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`, "utf8").digest("base64");
  return `v1,${mac}`;
}
