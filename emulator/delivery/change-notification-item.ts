import type { StoredMessage, Subscription } from "../emulator-state.ts";

const iso = (ms: number): string => new Date(ms).toISOString().replace("Z", "0000+00:00");

/** The chatMessage as Graph returns it, without the emulator's bookkeeping fields. */
export function toGraphChatMessage(message: StoredMessage): Record<string, unknown> {
  const { tenantId: _tenantId, ...graph } = message;
  return { ...graph, replies: [], hostedContents: [] };
}

/** A `changeNotification` for a chat message, before any encryption (https://learn.microsoft.com/graph/api/resources/changenotification). */
export function changeNotificationItem(
  sub: Subscription,
  message: StoredMessage,
  changeType: string,
): Record<string, unknown> {
  const resource = `chats('${message.chatId}')/messages('${message.id}')`;
  const item: Record<string, unknown> = {
    subscriptionId: sub.id,
    changeType,
    subscriptionExpirationDateTime: iso(sub.expirationDateTime),
    resource,
    resourceData: { id: message.id, "@odata.type": "#Microsoft.Graph.chatMessage", "@odata.id": resource },
    tenantId: sub.tenantId,
  };
  if (sub.clientState !== null) item.clientState = sub.clientState;
  return item;
}

export function lifecycleNotificationItem(
  sub: Subscription,
  lifecycleEvent: string,
): Record<string, unknown> {
  const item: Record<string, unknown> = {
    subscriptionId: sub.id,
    subscriptionExpirationDateTime: iso(sub.expirationDateTime),
    tenantId: sub.tenantId,
    lifecycleEvent,
  };
  if (sub.clientState !== null) item.clientState = sub.clientState;
  return item;
}
