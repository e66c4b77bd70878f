// Wire shapes of the Microsoft Graph v1.0 resources the emulator serves.
// https://learn.microsoft.com/graph/api/resources/chatmessage, https://learn.microsoft.com/graph/api/resources/chat

export interface GraphIdentity {
  "@odata.type"?: string;
  id: string;
  displayName: string | null;
  userIdentityType?:
    "aadUser" | "anonymousGuest" | "federatedUser" | "personalMicrosoftAccountUser" | "skypeUser";
  tenantId?: string;
}

export interface GraphChatMessage {
  id: string;
  replyToId: string | null;
  etag: string;
  messageType: "message" | "chatEvent" | "typing" | "systemEventMessage" | "unknownFutureValue";
  createdDateTime: string;
  lastModifiedDateTime: string;
  lastEditedDateTime: string | null;
  deletedDateTime: string | null;
  subject: string | null;
  summary: string | null;
  chatId: string;
  importance: "normal" | "high" | "urgent";
  locale: "en-us";
  webUrl: string | null;
  channelIdentity: null;
  policyViolation: null;
  eventDetail: unknown;
  from: { application: null; device: null; user: GraphIdentity } | null;
  body: { contentType: "text" | "html"; content: string };
  attachments: unknown[];
  mentions: unknown[];
  reactions: unknown[];
}

export interface GraphChat {
  id: string;
  topic: string | null;
  createdDateTime: string;
  lastUpdatedDateTime: string;
  chatType: "oneOnOne" | "group" | "meeting";
  webUrl: string;
  tenantId: string;
  onlineMeetingInfo: null;
  viewpoint?: { isHidden: boolean; lastMessageReadDateTime: string };
  lastMessagePreview?: {
    id: string;
    createdDateTime: string;
    isDeleted: boolean;
    messageType: GraphChatMessage["messageType"];
    body: { contentType: "text" | "html"; content: string };
    from: GraphChatMessage["from"];
  } | null;
}
