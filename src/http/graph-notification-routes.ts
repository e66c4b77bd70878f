// Graph's webhook endpoints, shared by every org and routed by subscription id: `POST /api/graph/notifications`
// and `POST /api/graph/lifecycle`. Protocol: reference/graph-change-notifications.md §3 (validation handshake),
// §4 (payloads, 202 after persisting, 5xx only when not persisted) and §12 items 1-3 and 15.
// Nothing slow happens before the answer: no Graph call, no decryption, no JWT check. The worker does those.
import { hash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Counter, Histogram, type Registry } from "prom-client";
import type { AddressMatcher } from "../core/cidr.ts";
import { parseChatMessageResource } from "../core/chat-message.ts";
import type { Clock } from "../core/clock.ts";
import type { SubscriptionLookup, KnownSubscription } from "../core/intake-ports.ts";
import { LIFECYCLE_PATH, NOTIFICATION_PATH } from "../core/subscription-policy.ts";

/** Rich batches are large (every item carries the whole encrypted message); Graph retries a 413 for 4 hours. */
export const NOTIFICATION_BODY_LIMIT = 1024 * 1024;

/** The webhook routes' log level (bench/notification-intake.bench.ts gives its no-op route the same). */
export const GRAPH_ROUTE_LOG_LEVEL = "warn" as const;

export type NotificationResult =
  | "stored"
  | "duplicate"
  | "unknown_subscription"
  | "client_state_mismatch"
  | "malformed"
  | "storage_failed"
  /** A whole request (handshake or batch, counted once: its body is never read) from outside the allow-list. */
  | "source_refused";

export interface NotificationMetrics {
  count(result: NotificationResult, items?: number): void;
  handshake(): void;
  acknowledged(seconds: number, status: number): void;
}

/** Counters in the app's registry: `relay_notifications_received_total{result}` and friends. */
export function createNotificationMetrics(registry: Registry): NotificationMetrics {
  const received = new Counter({
    name: "relay_notifications_received_total",
    help: "Graph notification items received on the webhook, by what became of them",
    labelNames: ["result"],
    registers: [registry],
  });
  const handshakes = new Counter({
    name: "relay_notification_handshakes_total",
    help: "Graph endpoint validation handshakes answered",
    registers: [registry],
  });
  const ack = new Histogram({
    name: "relay_notification_ack_seconds",
    help: "Time from receiving a notification batch to answering it",
    labelNames: ["status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3],
    registers: [registry],
  });
  // Children bound once per label value: prom-client hashes a labels object on every call otherwise.
  const receivedBy = new Map<NotificationResult, ReturnType<typeof received.labels>>();
  const ackBy = new Map<number, ReturnType<typeof ack.labels>>();
  return {
    count(result, items = 1) {
      let child = receivedBy.get(result);
      if (!child) receivedBy.set(result, (child = received.labels(result)));
      child.inc(items);
    },
    handshake: () => handshakes.inc(),
    acknowledged(seconds, status) {
      let child = ackBy.get(status);
      if (!child) ackBy.set(status, (child = ack.labels(String(status))));
      child.observe(seconds);
    },
  };
}

/** What the routes write to: the inbox (src/storage/inbox-store.ts), one transaction per batch. */
export interface InboxWriter {
  enqueue(
    items: {
      dedupeKey: string;
      orgId: string | null;
      subscriptionId: string;
      kind: "change" | "lifecycle";
      item: Record<string, unknown>;
      validationTokens: string[];
    }[],
    now: number,
  ): Promise<{ stored: number; duplicates: number }>;
}

export interface GraphNotificationRouteDeps {
  clock: Clock;
  subscriptions: Pick<SubscriptionLookup, "find">;
  inbox: InboxWriter;
  metrics?: NotificationMetrics;
  /** Called after items were stored and acknowledged: wakes the inbox worker. */
  onStored?: () => void;
  /**
   * `RELAY_GRAPH_ALLOWED_CIDRS`: when set, only these client addresses reach the two routes (handshake included).
   * The address is fastify's `request.ip`: the socket's, or `X-Forwarded-For`'s when the app trusts a proxy.
   */
  allowedSources?: AddressMatcher;
}

const noMetrics: NotificationMetrics = { count() {}, handshake() {}, acknowledged() {} };

/**
 * The validation token the way URLSearchParams decodes it (`+` is a space, `%3a` and `%3A` both a colon), which is
 * how Graph encodes it; a bare decodeURIComponent would leave the `+`.
 */
export function validationTokenOf(url: string): string | null {
  const query = url.indexOf("?");
  if (query === -1) return null;
  return new URLSearchParams(url.slice(query + 1)).get("validationToken");
}

/**
 * Graph redelivers the same item (retries, duplicates); its optional `id` is usually absent for Teams. Lifecycle
 * items carry no resource, so their subscription expiry tells a new request from a redelivered one.
 */
export function notificationDedupeKey(item: Record<string, unknown>): string {
  const text = (value: unknown) => (typeof value === "string" ? value : "");
  const encrypted = item.encryptedContent as { data?: unknown } | undefined;
  const lifecycle = typeof item.lifecycleEvent === "string";
  const parts = [
    text(item.subscriptionId),
    text(item.changeType),
    text(item.lifecycleEvent),
    text(item.resource),
    text(encrypted?.data),
    ...(lifecycle ? [text(item.subscriptionExpirationDateTime)] : []),
  ];
  const digest = hash("sha256", JSON.stringify(parts), "hex");
  // Teams message ids grow with time (epoch milliseconds), so keys led by them land at the end of the unique index
  // instead of on a random page: fewer pages written per inbox commit. Redeliveries carry the same id.
  const message = lifecycle ? undefined : parseChatMessageResource(item.resource);
  return message ? `${message.messageId.slice(0, 40)}:${digest}` : digest;
}

/** The expected clientState's digest, once per cached subscription object rather than once per item. */
const expectedDigests = new WeakMap<KnownSubscription, Buffer>();

function sameClientState(received: unknown, subscription: KnownSubscription): boolean {
  if (typeof received !== "string") return false;
  let expected = expectedDigests.get(subscription);
  if (!expected) {
    expected = hash("sha256", subscription.clientState, "buffer");
    expectedDigests.set(subscription, expected);
  }
  // Digests give equal lengths, so the comparison time says nothing about either value.
  return timingSafeEqual(hash("sha256", received, "buffer"), expected);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function badRequest(reply: FastifyReply, message: string) {
  return reply.code(400).send({ error: { code: "ERR_VALIDATION", message } });
}

export function registerGraphNotificationRoutes(
  app: FastifyInstance,
  deps: GraphNotificationRouteDeps,
): void {
  const metrics = deps.metrics ?? noMetrics;

  // An encapsulated scope: its body parser and hook apply to these two routes only.
  void app.register(async (scope) => {
    // The handshake arrives as an empty `text/plain` POST and notifications as JSON: take any body as raw bytes
    // (parsed below, so a parse failure is ours to answer) up to the limit, beyond which fastify answers 413.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      "*",
      { parseAs: "buffer", bodyLimit: NOTIFICATION_BODY_LIMIT },
      (_req: FastifyRequest, body: Buffer, done: (error: Error | null, body?: Buffer) => void) =>
        done(null, body),
    );

    // The source allow-list comes before everything, the handshake included: onRequest hooks run in the order
    // they were added, and onRequest runs before the body is read.
    const allowed = deps.allowedSources;
    if (allowed) {
      scope.addHook("onRequest", async (req, reply) => {
        if (allowed(req.ip)) return;
        metrics.count("source_refused");
        req.log.warn(
          { sourceIp: req.ip, result: "source_refused" },
          "Graph webhook request refused: source address not in RELAY_GRAPH_ALLOWED_CIDRS",
        );
        return reply
          .code(403)
          .header("connection", "close")
          .send({
            error: {
              code: "ERR_FORBIDDEN_SOURCE",
              message: "This source address may not call this endpoint",
            },
          });
      });
    }

    // The validation handshake first: before authentication, body parsing or storage (§3).
    scope.addHook("onRequest", async (req, reply) => {
      const token = validationTokenOf(req.url);
      if (token === null) return;
      metrics.handshake();
      return reply
        .code(200)
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "no-store")
        .send(token);
    });

    const receive = async (req: FastifyRequest, reply: FastifyReply) => {
      const started = performance.now();
      const answer = (status: number) => metrics.acknowledged((performance.now() - started) / 1000, status);
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let batch: unknown;
      try {
        batch = JSON.parse(raw.toString("utf8"));
      } catch {
        answer(400);
        return badRequest(reply, "The request body is not valid JSON");
      }
      if (!isRecord(batch) || !Array.isArray(batch.value)) {
        answer(400);
        return badRequest(reply, "The request body must be a notification collection with a `value` array");
      }
      const validationTokens = Array.isArray(batch.validationTokens)
        ? batch.validationTokens.filter((t): t is string => typeof t === "string")
        : [];

      const now = deps.clock.now();
      const accepted: Parameters<InboxWriter["enqueue"]>[0] = [];
      const known = new Map<string, KnownSubscription | undefined>();
      try {
        for (const item of batch.value) {
          if (!isRecord(item) || typeof item.subscriptionId !== "string" || item.subscriptionId === "") {
            metrics.count("malformed");
            continue;
          }
          const subscriptionId = item.subscriptionId;
          if (!known.has(subscriptionId))
            known.set(subscriptionId, await deps.subscriptions.find(subscriptionId));
          const subscription = known.get(subscriptionId);
          if (!subscription) {
            metrics.count("unknown_subscription");
            req.log.info(
              { subscriptionId: subscriptionId.slice(0, 64), result: "unknown_subscription" },
              "notification item for an unknown subscription ignored",
            );
            continue;
          }
          if (!sameClientState(item.clientState, subscription)) {
            // Answered 202 like the rest, stored nowhere, logged without content (§12.3).
            metrics.count("client_state_mismatch");
            req.log.warn(
              { subscriptionId, orgId: subscription.orgId, result: "client_state_mismatch" },
              "notification item rejected: clientState does not match",
            );
            continue;
          }
          const { clientState: _clientState, ...rest } = item;
          const lifecycle = typeof item.lifecycleEvent === "string";
          accepted.push({
            dedupeKey: notificationDedupeKey(item),
            orgId: subscription.orgId,
            subscriptionId,
            kind: lifecycle ? "lifecycle" : "change",
            item: rest,
            validationTokens,
          });
        }
        const { stored, duplicates } = await deps.inbox.enqueue(accepted, now);
        metrics.count("stored", stored);
        metrics.count("duplicate", duplicates);
        // The worker starts after the answer is on its way: nothing slow happens before the 202.
        if (stored > 0 && deps.onStored) reply.raw.once("finish", deps.onStored);
      } catch (error) {
        // Not stored, so not acknowledged: Graph retries for up to 4 hours.
        metrics.count("storage_failed", batch.value.length);
        req.log.error(
          { err: error },
          "notification batch could not be stored; answering 503 so Graph retries",
        );
        answer(503);
        return reply
          .code(503)
          .header("retry-after", "5")
          .send({
            error: {
              code: "ERR_STORAGE_UNAVAILABLE",
              message: "The notification could not be stored; retry",
            },
          });
      }
      answer(202);
      return reply.code(202).send();
    };

    // No access-log lines per request: Graph may call thousands of times a second, and two info lines each cost
    // more than storing the item. relay_notifications_received_total and relay_notification_ack_seconds count
    // them; refusals, storage failures and errors still log at warn and above.
    const quiet = { logLevel: GRAPH_ROUTE_LOG_LEVEL };
    scope.post(NOTIFICATION_PATH, quiet, receive);
    scope.post(LIFECYCLE_PATH, quiet, receive);
  });
}
