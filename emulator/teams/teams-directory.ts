import type { EmulatorContext } from "../emulator-context.ts";
import type { StoredChat, StoredMessage, User } from "../emulator-state.ts";
import { createMessageIdSource, newGroupChatId } from "../ids.ts";
import { enqueueChangeNotifications } from "../delivery/enqueue-notifications.ts";

const nextMessageId = createMessageIdSource();

const iso = (ms: number): string => new Date(ms).toISOString();

/** A group chat between exactly these members, reused when one exists (the security desk gets one per caller). */
export function findOrCreateGroupChat(
  ctx: EmulatorContext,
  tenantId: string,
  memberIds: string[],
  topic: string | null = null,
): StoredChat {
  const wanted = [...new Set(memberIds)].sort();
  const existing = [...ctx.state.chats.values()].find(
    (c) =>
      c.tenantId === tenantId &&
      c.chatType === "group" &&
      c.memberIds.length === wanted.length &&
      [...c.memberIds].sort().every((m, i) => m === wanted[i]),
  );
  if (existing) return existing;
  const now = ctx.clock.now();
  const id = newGroupChatId();
  const chat: StoredChat = {
    id,
    topic,
    createdDateTime: iso(now),
    lastUpdatedDateTime: iso(now),
    chatType: "group",
    webUrl: `https://teams.microsoft.com/l/chat/${encodeURIComponent(id)}/0?tenantId=${tenantId}`,
    tenantId,
    onlineMeetingInfo: null,
    memberIds: wanted,
  };
  ctx.state.chats.set(id, chat);
  ctx.state.messages.set(id, []);
  return chat;
}

/** Posts a message as `from` and queues change notifications for every subscription that covers the chat. */
export function postChatMessage(
  ctx: EmulatorContext,
  chat: StoredChat,
  from: User,
  body: { contentType: "text" | "html"; content: string },
  importance: "normal" | "high" | "urgent" = "normal",
): StoredMessage {
  const now = ctx.clock.now();
  const id = nextMessageId(now);
  const message: StoredMessage = {
    id,
    replyToId: null,
    etag: id,
    messageType: "message",
    createdDateTime: iso(now),
    lastModifiedDateTime: iso(now),
    lastEditedDateTime: null,
    deletedDateTime: null,
    subject: null,
    summary: null,
    chatId: chat.id,
    importance,
    locale: "en-us",
    webUrl: null,
    channelIdentity: null,
    policyViolation: null,
    eventDetail: null,
    from: {
      application: null,
      device: null,
      user: {
        "@odata.type": "#microsoft.graph.teamworkUserIdentity",
        id: from.id,
        displayName: from.displayName,
        userIdentityType: "aadUser",
        tenantId: from.tenantId,
      },
    },
    body,
    attachments: [],
    mentions: [],
    reactions: [],
    tenantId: chat.tenantId,
  };
  ctx.state.messages.get(chat.id)!.push(message);
  chat.lastUpdatedDateTime = iso(now);
  chat.lastMessagePreview = {
    id,
    createdDateTime: message.createdDateTime,
    isDeleted: false,
    messageType: "message",
    body,
    from: message.from,
  };
  enqueueChangeNotifications(ctx, message, "created");
  return message;
}

/** Edits a message in place; Graph reports it as an `updated` change with a new etag. */
export function editChatMessage(
  ctx: EmulatorContext,
  message: StoredMessage,
  content: string,
): StoredMessage {
  const now = ctx.clock.now();
  message.body = { ...message.body, content };
  message.lastModifiedDateTime = iso(now);
  message.lastEditedDateTime = iso(now);
  message.etag = String(now);
  enqueueChangeNotifications(ctx, message, "updated");
  return message;
}
