import type { EmulatorContext } from "../emulator-context.ts";
import type { Delivery, StoredMessage, Subscription } from "../emulator-state.ts";
import { takeFault } from "../faults.ts";
import { newGuid } from "../ids.ts";
import {
  changeNotificationItem,
  lifecycleNotificationItem,
  toGraphChatMessage,
} from "./change-notification-item.ts";
import { endpointKey, throttleStateOf } from "./endpoint-throttle.ts";
import { encryptResourceData } from "./rich-notification-crypto.ts";
import { coversChatMessage } from "./subscription-coverage.ts";

export function isActive(sub: Subscription, now: number): boolean {
  return !sub.removed && now < sub.expirationDateTime;
}

/** Queues a change notification for every active subscription whose resource covers the message's chat. */
export function enqueueChangeNotifications(
  ctx: EmulatorContext,
  message: StoredMessage,
  changeType: "created" | "updated" | "deleted",
): Delivery[] {
  const chat = ctx.state.chats.get(message.chatId);
  if (!chat) return [];
  const now = ctx.clock.now();
  const queued: Delivery[] = [];
  for (const sub of ctx.state.subscriptions.values()) {
    if (!isActive(sub, now) || !coversChatMessage(sub, chat, changeType)) continue;
    const item = changeNotificationItem(sub, message, changeType);
    if (sub.includeResourceData && sub.encryptionCertificate && sub.encryptionCertificateId) {
      item.encryptedContent = encryptResourceData({
        resource: toGraphChatMessage(message),
        encryptionCertificate: sub.encryptionCertificate,
        encryptionCertificateId: sub.encryptionCertificateId,
      });
    }
    const delivery = newDelivery(sub, "change", sub.notificationUrl, item, now);
    delivery.needsValidationToken = sub.includeResourceData;
    // "Delivery might continue for a while... eventually pauses" once the subscription's authorization lapses,
    // and changes in the pause are lost (https://learn.microsoft.com/graph/change-notifications-lifecycle-events).
    if (now > sub.authorizedUntil + ctx.settings.authorizationGraceMs) {
      settle(
        delivery,
        "lost",
        "subscription authorization expired; reauthorize or renew to resume deliveries",
      );
    }
    queued.push(...applyDeliveryFaults(ctx, delivery));
  }
  ctx.wake();
  return queued;
}

export function enqueueLifecycleNotification(
  ctx: EmulatorContext,
  sub: Subscription,
  lifecycleEvent: string,
): Delivery | undefined {
  if (!sub.lifecycleNotificationUrl) return undefined;
  const now = ctx.clock.now();
  const delivery = newDelivery(
    sub,
    "lifecycle",
    sub.lifecycleNotificationUrl,
    lifecycleNotificationItem(sub, lifecycleEvent),
    now,
  );
  applyDeliveryFaults(ctx, delivery);
  ctx.wake();
  return delivery;
}

function newDelivery(
  sub: Subscription,
  kind: Delivery["kind"],
  url: string,
  item: Record<string, unknown>,
  now: number,
): Delivery {
  return {
    id: newGuid(),
    subscriptionId: sub.id,
    kind,
    url,
    item,
    needsValidationToken: false,
    status: "pending",
    reason: null,
    createdAt: now,
    firstAttemptAt: null,
    nextAttemptAt: now,
    attempts: [],
    deliveredAt: null,
    duplicate: false,
    holdForReorder: false,
  };
}

function settle(delivery: Delivery, status: Delivery["status"], reason: string): void {
  delivery.status = status;
  delivery.reason = reason;
}

/** Stores the delivery (and a duplicate when asked), applying the endpoint's throttling state and injected faults. */
function applyDeliveryFaults(ctx: EmulatorContext, delivery: Delivery): Delivery[] {
  const now = ctx.clock.now();
  const stored = [delivery];
  ctx.state.deliveries.push(delivery);
  if (delivery.status !== "pending") return stored;
  // https://learn.microsoft.com/graph/change-notifications-delivery-webhooks#throttling
  const throttle = throttleStateOf(ctx, endpointKey(delivery.url), now);
  if (throttle === "drop") {
    settle(
      delivery,
      "dropped",
      "endpoint in drop state: over 15% of responses exceeded the 10 s retry timeout in 10 min",
    );
    return stored;
  }
  if (throttle === "slow") delivery.nextAttemptAt = now + 10 * 60_000;
  const fault = takeFault(ctx.state, "delivery", delivery.url, ["drop", "delay", "duplicate", "reorder"]);
  if (fault?.kind === "drop") settle(delivery, "dropped", "fault injected: drop");
  if (fault?.kind === "delay") delivery.nextAttemptAt += (fault.delaySeconds ?? 60) * 1000;
  if (fault?.kind === "reorder") delivery.holdForReorder = true;
  if (fault?.kind === "duplicate") {
    const copy: Delivery = { ...delivery, id: newGuid(), duplicate: true, attempts: [] };
    ctx.state.deliveries.push(copy);
    stored.push(copy);
  }
  return stored;
}
