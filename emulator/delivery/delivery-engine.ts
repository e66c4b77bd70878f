import type { EmulatorContext } from "../emulator-context.ts";
import type { Delivery, Subscription } from "../emulator-state.ts";
import { endpointKey, recordEndpointResponse } from "./endpoint-throttle.ts";
import { enqueueLifecycleNotification, isActive } from "./enqueue-notifications.ts";
import { mintValidationToken } from "./mint-validation-token.ts";
import { postWebhook } from "./post-webhook.ts";

const REAUTHORIZATION_CADENCE_MS = 15 * 60_000;
const REORDER_RELEASE_MS = 60_000;

export interface DeliveryEngine {
  /** Sends what is due now (by the emulator clock) and emits due lifecycle events. */
  pump(): void;
  /** Resolves once nothing is due and nothing is in flight. */
  settle(): Promise<void>;
  start(intervalMs: number): void;
  stop(): void;
}

/**
 * Graph's delivery behaviour (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks):
 * batches per URL, 3 s for a first try and 10 s for retries, exponential backoff for up to 4 hours.
 * One POST at a time per URL keeps the order observable, so reorder faults are meaningful.
 */
export function createDeliveryEngine(ctx: EmulatorContext): DeliveryEngine {
  const inFlight = new Map<string, Promise<void>>();
  let timer: NodeJS.Timeout | undefined;

  function emitLifecycleEvents(now: number): void {
    for (const sub of ctx.state.subscriptions.values()) {
      if (sub.removed) continue;
      if (now >= sub.expirationDateTime) {
        // Expired subscriptions stop delivering and disappear from Graph.
        sub.removed = true;
        failPendingOf(sub, "subscription expired");
        continue;
      }
      if (!sub.lifecycleNotificationUrl) continue;
      const lead = ctx.settings.reauthorizationLeadMs;
      const nearExpiry = sub.authorizedUntil - now <= lead || sub.expirationDateTime - now <= lead;
      const quiet =
        sub.lastReauthorizationNoticeAt === null ||
        now - sub.lastReauthorizationNoticeAt >= REAUTHORIZATION_CADENCE_MS;
      if (nearExpiry && quiet) {
        sub.lastReauthorizationNoticeAt = now;
        enqueueLifecycleNotification(ctx, sub, "reauthorizationRequired");
      }
    }
  }

  function failPendingOf(sub: Subscription, reason: string): void {
    for (const d of ctx.state.deliveries) {
      if (d.subscriptionId === sub.id && d.status === "pending" && d.kind === "change") {
        d.status = "failed";
        d.reason = reason;
      }
    }
  }

  /** A reordered item waits until a later item for the same URL has been sent (or a minute has passed). */
  function releasedFromReorder(d: Delivery, now: number): boolean {
    if (!d.holdForReorder || now - d.createdAt >= REORDER_RELEASE_MS) return true;
    const index = ctx.state.deliveries.indexOf(d);
    return ctx.state.deliveries.some((o, i) => i > index && o.url === d.url && o.attempts.length > 0);
  }

  function dueByUrl(now: number): Map<string, Delivery[]> {
    const byUrl = new Map<string, Delivery[]>();
    const pending = ctx.state.deliveries.filter((d) => d.status === "pending");
    for (const d of pending) {
      if (d.nextAttemptAt > now || inFlight.has(d.url)) continue;
      if (!releasedFromReorder(d, now)) continue;
      const list = byUrl.get(d.url) ?? [];
      if (list.length < ctx.settings.maxBatchSize) list.push(d);
      byUrl.set(d.url, list);
    }
    return byUrl;
  }

  async function sendBatch(url: string, batch: Delivery[]): Promise<void> {
    const now = ctx.clock.now();
    const live = batch.filter((d) => {
      const sub = ctx.state.subscriptions.get(d.subscriptionId);
      if (d.kind === "change" && (!sub || !isActive(sub, now))) {
        d.status = "failed";
        d.reason = "subscription removed or expired before delivery";
        return false;
      }
      return true;
    });
    if (live.length === 0) return;
    const isRetry = live.some((d) => d.attempts.length > 0);
    const timeoutMs = isRetry ? ctx.settings.retryTimeoutMs : ctx.settings.firstAttemptTimeoutMs;
    const body: Record<string, unknown> = { value: live.map((d) => d.item) };
    const pairs = new Map<string, { appId: string; tenantId: string }>();
    for (const d of live) {
      const sub = ctx.state.subscriptions.get(d.subscriptionId);
      if (d.needsValidationToken && sub)
        pairs.set(`${sub.appId}|${sub.tenantId}`, { appId: sub.appId, tenantId: sub.tenantId });
    }
    if (pairs.size > 0)
      body.validationTokens = await Promise.all(
        [...pairs.values()].map((p) => mintValidationToken(ctx, p.appId, p.tenantId)),
      );

    const response = await postWebhook(url, {
      body: JSON.stringify(body),
      contentType: "application/json; charset=utf-8",
      timeoutMs,
      trustedCaPems: ctx.settings.trustedCaPems,
    });
    const at = ctx.clock.now();
    recordEndpointResponse(ctx, endpointKey(url), at, {
      overFirstTimeout: response.timedOut || response.latencyMs > ctx.settings.firstAttemptTimeoutMs,
      overRetryTimeout: (isRetry && response.timedOut) || response.latencyMs > ctx.settings.retryTimeoutMs,
    });
    const ok = response.status !== null && response.status >= 200 && response.status < 300;
    for (const d of live) {
      d.firstAttemptAt ??= at;
      d.attempts.push({
        at,
        latencyMs: response.latencyMs,
        status: response.status,
        error: response.error,
        timedOut: response.timedOut,
      });
      if (ok) {
        d.status = "delivered";
        d.deliveredAt = at;
        d.reason = null;
      } else if (at - d.firstAttemptAt >= ctx.settings.retryWindowMs) {
        d.status = "failed";
        d.reason = `no 2xx within ${ctx.settings.retryWindowMs / 60_000} min of retries`;
      } else {
        const delay = Math.min(
          ctx.settings.retryBaseMs * 2 ** (d.attempts.length - 1),
          ctx.settings.retryMaxDelayMs,
        );
        d.nextAttemptAt = at + delay;
        d.reason = response.timedOut ? "timed out" : `answered ${response.status ?? response.error}`;
      }
    }
    ctx.log("delivery", {
      url,
      items: live.length,
      status: response.status,
      latencyMs: response.latencyMs,
      timedOut: response.timedOut,
    });
  }

  function pump(): void {
    const now = ctx.clock.now();
    emitLifecycleEvents(now);
    for (const [url, batch] of dueByUrl(now)) {
      const sending = sendBatch(url, batch)
        .catch((error: unknown) => ctx.log("delivery error", { url, error: String(error) }))
        .finally(() => {
          inFlight.delete(url);
          setImmediate(pump);
        });
      inFlight.set(url, sending);
    }
  }

  async function settle(): Promise<void> {
    for (;;) {
      pump();
      if (inFlight.size === 0) return;
      await Promise.all([...inFlight.values()]);
    }
  }

  return {
    pump,
    settle,
    start(intervalMs) {
      timer = setInterval(pump, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
