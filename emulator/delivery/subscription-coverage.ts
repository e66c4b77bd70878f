import type { StoredChat, Subscription } from "../emulator-state.ts";

/** Which kind of resource a subscription watches, with the user a per-user resource belongs to. */
export type WatchedResource =
  | { kind: "allChatMessagesOfUser"; userRef: string }
  | { kind: "chatsOfUser"; userRef: string }
  | { kind: "tenantWideChatMessages" }
  | { kind: "chatMessagesOfChat"; chatId: string }
  | { kind: "unsupported" };

/** Parses the `resource` of a subscription; `/me/...` is an alias of `/users/{signed-in user}/...`. */
export function parseWatchedResource(resource: string): WatchedResource {
  const path = resource.replace(/^\/+/, "").replace(/\?.*$/, "");
  let match = /^me\/chats\/getAllMessages$/i.exec(path);
  if (match) return { kind: "allChatMessagesOfUser", userRef: "me" };
  match = /^users\/([^/]+)\/chats\/getAllMessages$/i.exec(path);
  if (match) return { kind: "allChatMessagesOfUser", userRef: decodeURIComponent(stripQuotes(match[1]!)) };
  if (/^me\/chats$/i.test(path)) return { kind: "chatsOfUser", userRef: "me" };
  match = /^users\/([^/]+)\/chats$/i.exec(path);
  if (match) return { kind: "chatsOfUser", userRef: decodeURIComponent(stripQuotes(match[1]!)) };
  if (/^chats\/getAllMessages$/i.test(path)) return { kind: "tenantWideChatMessages" };
  match = /^chats\/([^/]+)\/messages$/i.exec(path);
  if (match) return { kind: "chatMessagesOfChat", chatId: decodeURIComponent(stripQuotes(match[1]!)) };
  return { kind: "unsupported" };
}

function stripQuotes(segment: string): string {
  const m = /^\('?(.*?)'?\)$/.exec(segment);
  return m ? m[1]! : segment.replace(/^'(.*)'$/, "$1");
}

/** Does this subscription receive `changeType` for a message in `chat`? */
export function coversChatMessage(sub: Subscription, chat: StoredChat, changeType: string): boolean {
  if (
    !sub.changeType
      .split(",")
      .map((c) => c.trim().toLowerCase())
      .includes(changeType)
  )
    return false;
  const watched = parseWatchedResource(sub.resource);
  if (watched.kind !== "allChatMessagesOfUser") return false;
  return chat.memberIds.includes(sub.creatorId);
}
