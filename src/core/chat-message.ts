// Reading the few fields of Graph `chatMessage` resources and change notifications the relay relies on.
// Ids are opaque strings (chat ids contain `:` and `@`; message ids look like epoch milliseconds but are not).

const CHAT_MESSAGE_RESOURCE = /(?:^|\/)chats\('([^']+)'\)\/messages\('([^']+)'\)$/i;

/**
 * `chats('19:…@unq.gbl.spaces')/messages('1612289765949')` (also with a leading `/`, `me/` or `users('…')/`) ->
 * the two ids, percent-decoded when Graph sent them encoded. Undefined for other resources (channels, replies).
 */
export function parseChatMessageResource(
  resource: unknown,
): { chatId: string; messageId: string } | undefined {
  if (typeof resource !== "string") return undefined;
  const match = CHAT_MESSAGE_RESOURCE.exec(resource.trim());
  if (!match) return undefined;
  const chatId = decodeId(match[1]!);
  const messageId = decodeId(match[2]!);
  return chatId && messageId ? { chatId, messageId } : undefined;
}

function decodeId(raw: string): string | undefined {
  try {
    return raw.includes("%") ? decodeURIComponent(raw) : raw;
  } catch {
    return undefined;
  }
}

/** An ISO-8601 date-time property as epoch ms, or null when absent or unparseable. */
export function timeOf(record: Record<string, unknown>, property: string): number | null {
  const value = record[property];
  if (typeof value !== "string") return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

export function stringOf(record: Record<string, unknown>, property: string): string | undefined {
  const value = record[property];
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
