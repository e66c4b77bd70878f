import { randomBytes, randomUUID } from "node:crypto";

export const newGuid = (): string => randomUUID();

/** Opaque URL-safe random string, used for codes and refresh tokens. */
export const newOpaque = (bytes = 32): string => randomBytes(bytes).toString("base64url");

/** Group chat ids look like `19:<hex>@thread.v2` in Teams. */
export const newGroupChatId = (): string => `19:${randomBytes(16).toString("hex")}@thread.v2`;

/**
 * Teams message ids are epoch-millisecond-like strings, unique within a chat only
 * (https://learn.microsoft.com/graph/api/resources/chatmessage). `last` keeps them increasing when two share a millisecond.
 */
export function createMessageIdSource(): (nowMs: number) => string {
  let last = 0;
  return (nowMs) => {
    last = Math.max(last + 1, nowMs);
    return String(last);
  };
}
