// The worker after the 202: takes stored notification items from the inbox and turns each into at most one hand-off
// to detection. Rich items: validation tokens first, then HMAC-checked decryption. Basic items: the message is read
// from Graph within Teams' rate limits. Duplicates and reordering are normal; the seen-message claim makes the
// hand-off happen once per (org, chat, message), and a crash between claim and hand-off loses nothing.
import { setTimeout as delay } from "node:timers/promises";
import { isRecord, parseChatMessageResource, stringOf, timeOf } from "../core/chat-message.ts";
import type { Clock } from "../core/clock.ts";
import type {
  DecryptionKeyring,
  InboxItem,
  InboxQueue,
  KnownSubscription,
  LifecycleHandler,
  NewMessageHandler,
  SubscriptionLookup,
} from "../core/intake-ports.ts";
import {
  graphFailureOf,
  notificationCryptoCodeOf,
  type GraphReader,
  type RichNotificationDecryptor,
  type SeenMessageRepository,
  type ValidationTokenVerifier,
} from "../core/message-ports.ts";
import type { EventSink } from "../core/ports.ts";
import { chatMessageKeys, type RateLimiter } from "../core/rate-limiter.ts";

/** Why an item was refused; stable, for counting and alerting. */
export type RejectCode =
  | "unknown_subscription"
  | "org_mismatch"
  | "malformed_item"
  | "org_not_configured"
  | "tenant_mismatch"
  | "validation_tokens_missing"
  | "validation_token_invalid"
  | "certificate_org_mismatch"
  | "decrypt_failed"
  | "unsupported_resource"
  | "message_not_found"
  | "message_forbidden"
  | "graph_refused"
  | "retry_exhausted";

export interface OrgApp {
  orgId: string;
  clientId: string;
  tenantId: string;
}

/** pino's Logger fits. Fields never carry message content, tokens or keys. */
export interface FlowLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface InboxWorkerDeps {
  inbox: InboxQueue;
  subscriptions: SubscriptionLookup;
  keyring: DecryptionKeyring;
  verifier: ValidationTokenVerifier;
  /** `decryptRichNotification` from src/microsoft/decrypt-rich-notification.ts. */
  decrypt: RichNotificationDecryptor;
  /** The Graph client (delegated token per org). */
  graph: GraphReader;
  /**
   * Every org with an app registration (client id and tenant). The notification URL is shared, so a batch carries a
   * validation token per (app, tenant) pair of all its items: each must be one of ours, and one must be the item's.
   */
  orgApps(): Promise<OrgApp[]>;
  seen: SeenMessageRepository;
  onNewMessage: NewMessageHandler;
  onLifecycle: LifecycleHandler;
  clock: Clock;
  /** This process, as the inbox lease owner. */
  owner: string;
  events: EventSink;
  /** Shared with reconciliation polling: both read chat messages of the same orgs. */
  limiter: RateLimiter;
  log?: FlowLog;
  sleep?: (ms: number) => Promise<void>;
  /** Items claimed per `runOnce`; default 50. */
  batchSize?: number;
  /** How long a claimed item stays ours; default 2 minutes (a dead worker's items come back after it). */
  leaseMs?: number;
  /** Items processed at once; default 4. */
  concurrency?: number;
  /** A rate-limit wait longer than this puts the item back instead of holding a worker slot; default 1 s. */
  maxInlineWaitMs?: number;
  /** Transient failures are retried (with backoff, honouring Retry-After) for this long after receipt; default 24 h. */
  retryForMs?: number;
}

export interface InboxWorkerStats {
  processed: number;
  rejected: number;
  retried: number;
  /** Messages handed to detection. */
  handedOff: number;
  rejectedBy: Partial<Record<RejectCode, number>>;
}

export interface InboxWorker {
  /** Claims one batch of due items and processes it; returns how many items it claimed. */
  runOnce(): Promise<number>;
  /** Shutting down: items in hand are finished, claimed ones not yet started are handed back; no new claims. */
  stop(): void;
  stats(): InboxWorkerStats;
}

type Outcome =
  | { kind: "processed"; note: string; subscriptionId: string | null }
  | { kind: "rejected"; code: RejectCode; reason: string; orgId: string | null }
  | { kind: "retry"; at: number; error: string };

const MIN_BACKOFF_MS = 5_000;
const MAX_BACKOFF_MS = 15 * 60_000;
/** Rejections raise an operational event at most this often per org and reason. */
const REJECTION_EVENT_INTERVAL_MS = 3_600_000;
const nothingToLog: FlowLog = { info() {}, warn() {}, error() {} };

export function createInboxWorker(deps: InboxWorkerDeps): InboxWorker {
  const log = deps.log ?? nothingToLog;
  const sleep = deps.sleep ?? ((ms: number) => delay(ms).then(() => {}));
  const batchSize = deps.batchSize ?? 50;
  const leaseMs = deps.leaseMs ?? 2 * 60_000;
  const concurrency = Math.max(1, deps.concurrency ?? 4);
  const maxInlineWaitMs = deps.maxInlineWaitMs ?? 1_000;
  const retryForMs = deps.retryForMs ?? 24 * 3_600_000;
  const stats: InboxWorkerStats = { processed: 0, rejected: 0, retried: 0, handedOff: 0, rejectedBy: {} };
  const lastRejectionEvent = new Map<string, number>();
  let stopped = false;

  const processed = (note: string, subscriptionId: string | null = null): Outcome => ({
    kind: "processed",
    note,
    subscriptionId,
  });
  const reject = (code: RejectCode, reason: string, orgId: string | null): Outcome => ({
    kind: "rejected",
    code,
    reason,
    orgId,
  });
  // `attempts` counts claims, the current one included: 5 s after the first, doubling to 15 minutes.
  const backoffMs = (item: InboxItem) =>
    Math.min(MIN_BACKOFF_MS * 2 ** Math.max(0, item.attempts - 1), MAX_BACKOFF_MS);
  const retryLater = (item: InboxItem, error: string, afterMs = backoffMs(item)): Outcome => ({
    kind: "retry",
    at: deps.clock.now() + afterMs,
    error,
  });

  async function process(item: InboxItem): Promise<Outcome> {
    const subscription = await deps.subscriptions.find(item.subscriptionId);
    if (!subscription)
      return reject(
        "unknown_subscription",
        "the subscription is unknown to the relay (never created, or removed)",
        item.orgId,
      );
    const orgId = subscription.orgId;
    if (item.orgId !== null && item.orgId !== orgId)
      return reject("org_mismatch", "the item's org differs from its subscription's org", item.orgId);

    if (item.kind === "lifecycle") {
      const event = stringOf(item.item, "lifecycleEvent");
      if (!event) return reject("malformed_item", "lifecycle item without lifecycleEvent", orgId);
      await deps.onLifecycle(subscription.id, event);
      return processed(`lifecycle ${event}`, subscription.id);
    }

    const changeType = stringOf(item.item, "changeType")?.toLowerCase();
    // A deleted message has nothing to hand over (and a GET would only 404).
    if (changeType === "deleted") return processed("deleted change", subscription.id);

    const encrypted = item.item.encryptedContent ?? item.item.EncryptedContent;
    const read =
      encrypted !== undefined && encrypted !== null
        ? await readRich(item, subscription, encrypted)
        : await readBasic(item, subscription);
    if ("outcome" in read) return read.outcome;
    const message = read.message;

    const fromResource = parseChatMessageResource(item.item.resource);
    const chatId = stringOf(message, "chatId") ?? fromResource?.chatId;
    const messageId = stringOf(message, "id") ?? fromResource?.messageId;
    if (!chatId || !messageId)
      return reject("malformed_item", "the message has no chat or message id", orgId);

    const key = { orgId, chatId, messageId };
    const claim = await deps.seen.claim(
      { ...key, source: "notification", messageCreatedAt: timeOf(message, "createdDateTime") },
      deps.clock.now(),
    );
    if (claim.status === "seen") return processed("duplicate", subscription.id);
    if (claim.status === "in_progress")
      return {
        kind: "retry",
        at: Math.max(claim.retryAt, deps.clock.now() + 1),
        error: "another worker is handing this message over",
      };
    try {
      await deps.onNewMessage(orgId, message, "notification");
    } catch (error) {
      await deps.seen.release(key);
      throw error;
    }
    await deps.seen.confirm(key, deps.clock.now());
    stats.handedOff += 1;
    return processed("handed off", subscription.id);
  }

  async function readRich(
    item: InboxItem,
    subscription: KnownSubscription,
    encrypted: unknown,
  ): Promise<{ message: Record<string, unknown> } | { outcome: Outcome }> {
    const orgId = subscription.orgId;
    const fail = (code: RejectCode, reason: string) => ({ outcome: reject(code, reason, orgId) });
    if (!Array.isArray(item.validationTokens) || item.validationTokens.length === 0)
      return fail(
        "validation_tokens_missing",
        "a notification with resource data came without validationTokens: Graph's Change Tracking service principal is probably misconfigured",
      );
    const apps = await deps.orgApps();
    const own = apps.find((a) => a.orgId === orgId);
    if (!own)
      return fail("org_not_configured", "the org has no client id and tenant to check tokens against");
    const tenantId = stringOf(item.item, "tenantId");
    if (tenantId !== undefined && tenantId.toLowerCase() !== own.tenantId.toLowerCase())
      return fail("tenant_mismatch", "the item's tenantId is not the org's tenant");

    // Authenticity first: anyone holding the public certificate can produce content that passes the HMAC.
    const check = await deps.verifier.verify(
      item.validationTokens,
      {
        appIds: [...new Set(apps.map((a) => a.clientId))],
        tenantIds: [...new Set(apps.map((a) => a.tenantId.toLowerCase()))],
      },
      item.receivedAt,
    );
    if (!check.ok) {
      if (check.retryable) return { outcome: retryLater(item, check.reason) };
      return fail("validation_token_invalid", check.reason);
    }
    const covers = check.audiences.some(
      (a) => a.appId === own.clientId && a.tenantId.toLowerCase() === own.tenantId.toLowerCase(),
    );
    if (!covers)
      return fail("validation_token_invalid", "no validation token is for this org's app and tenant");

    let wrongOrg = false;
    let plaintext: unknown;
    try {
      plaintext = await deps.decrypt(encrypted, {
        resolve: async (certificateId) => {
          const key = await deps.keyring.resolve(certificateId);
          if (!key) return undefined;
          // A key of another org must not open this org's notifications.
          if (key.orgId !== orgId) {
            wrongOrg = true;
            return undefined;
          }
          return { privateKey: key.privateKeyPem, thumbprint: key.thumbprint };
        },
      });
    } catch (error) {
      const code = notificationCryptoCodeOf(error);
      if (code === undefined) throw error;
      if (wrongOrg)
        return fail(
          "certificate_org_mismatch",
          "encryptionCertificateId belongs to another org's certificate",
        );
      return fail("decrypt_failed", `${code}: ${(error as Error).message}`);
    }
    if (!isRecord(plaintext))
      return fail("malformed_item", "the decrypted resource is not a chatMessage object");
    return { message: plaintext };
  }

  async function readBasic(
    item: InboxItem,
    subscription: KnownSubscription,
  ): Promise<{ message: Record<string, unknown> } | { outcome: Outcome }> {
    const orgId = subscription.orgId;
    const resourceData = isRecord(item.item.resourceData) ? item.item.resourceData : {};
    const ids =
      parseChatMessageResource(item.item.resource) ?? parseChatMessageResource(resourceData["@odata.id"]);
    if (!ids)
      return {
        outcome: reject("unsupported_resource", "the resource is not chats('…')/messages('…')", orgId),
      };

    const keys = chatMessageKeys(orgId, ids.chatId);
    const now = deps.clock.now();
    const wait = deps.limiter.wouldWait(keys, now);
    if (wait > maxInlineWaitMs) return { outcome: retryLater(item, "waiting for Graph's rate limit", wait) };
    deps.limiter.reserve(keys, now);
    if (wait > 0) await sleep(wait);
    try {
      const response = await deps.graph.request(
        orgId,
        "GET",
        `/chats/${encodeURIComponent(ids.chatId)}/messages/${encodeURIComponent(ids.messageId)}`,
      );
      if (!isRecord(response.body))
        return { outcome: reject("malformed_item", "Graph returned no chatMessage object", orgId) };
      return { message: response.body };
    } catch (error) {
      const failure = graphFailureOf(error);
      if (!failure) throw error;
      const { status } = failure;
      // "GET calls will always return the current state": 404/403 mean hard-deleted or no longer visible.
      if (status === 404)
        return {
          outcome: reject(
            "message_not_found",
            "Graph answered 404: the message was deleted or is not visible",
            orgId,
          ),
        };
      if (status === 403)
        return {
          outcome: reject(
            "message_forbidden",
            "Graph answered 403: the service user cannot read this chat",
            orgId,
          ),
        };
      if (failure.retryAfterMs !== null) {
        const until = deps.clock.now() + failure.retryAfterMs;
        for (const key of keys) deps.limiter.blockUntil(key, until);
        return {
          outcome: retryLater(item, `Graph answered ${status}; Retry-After honoured`, failure.retryAfterMs),
        };
      }
      if (status === null || status === 401 || status === 408 || status === 429 || status >= 500)
        return {
          outcome: retryLater(item, `Graph ${status === null ? failure.transport : `answered ${status}`}`),
        };
      return { outcome: reject("graph_refused", `Graph answered ${status}`, orgId) };
    }
  }

  async function settle(item: InboxItem, outcome: Outcome): Promise<void> {
    const now = deps.clock.now();
    if (outcome.kind === "retry" && now - item.receivedAt > retryForMs) {
      outcome = reject(
        "retry_exhausted",
        `still failing after ${Math.round(retryForMs / 3_600_000)} h (${outcome.error}); polling covers the message`,
        item.orgId,
      );
    }
    const fields = { inboxId: item.id, subscriptionId: item.subscriptionId, attempts: item.attempts };
    switch (outcome.kind) {
      case "processed":
        await deps.inbox.complete(item.id, deps.owner, "processed", null, now);
        stats.processed += 1;
        if (outcome.subscriptionId !== null)
          await deps.subscriptions.touchNotification(outcome.subscriptionId, item.receivedAt);
        return;
      case "retry":
        await deps.inbox.retry(item.id, deps.owner, outcome.error, outcome.at);
        stats.retried += 1;
        log.warn(
          { ...fields, retryInMs: outcome.at - now, error: outcome.error },
          "notification retried later",
        );
        return;
      case "rejected":
        await deps.inbox.complete(item.id, deps.owner, "rejected", `${outcome.code}: ${outcome.reason}`, now);
        stats.rejected += 1;
        stats.rejectedBy[outcome.code] = (stats.rejectedBy[outcome.code] ?? 0) + 1;
        log.warn(
          { ...fields, orgId: outcome.orgId, code: outcome.code, reason: outcome.reason },
          "notification rejected",
        );
        await announceRejection(outcome, now);
        return;
    }
  }

  /** Repeated refusals point at misconfiguration or an attack: an operational event, at most hourly per kind. */
  async function announceRejection(outcome: Extract<Outcome, { kind: "rejected" }>, now: number) {
    // Gone or unreadable messages are ordinary (deleted, left chat); the counters show them.
    if (outcome.code === "message_not_found" || outcome.code === "unknown_subscription") return;
    const key = `${outcome.orgId}:${outcome.code}`;
    const last = lastRejectionEvent.get(key);
    if (last !== undefined && now - last < REJECTION_EVENT_INTERVAL_MS) return;
    lastRejectionEvent.set(key, now);
    const misconfigured = outcome.code === "validation_tokens_missing" || outcome.code === "retry_exhausted";
    await deps.events.append({
      orgId: outcome.orgId,
      kind: "notification_rejected",
      severity: misconfigured ? "error" : "warning",
      message: `A Graph notification was refused (${outcome.code}): ${outcome.reason}`,
      details: { code: outcome.code },
    });
  }

  async function handle(item: InboxItem): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await process(item);
    } catch (error) {
      // Storage, token or handler trouble: nothing is known about the item, so it is tried again.
      outcome = retryLater(item, errorMessage(error));
    }
    try {
      await settle(item, outcome);
    } catch (error) {
      // The lease runs out and the item comes back; the seen-message claim keeps a second pass from repeating work.
      log.error(
        { inboxId: item.id, error: errorMessage(error) },
        "could not record a notification's outcome; it will be retried",
      );
    }
  }

  return {
    async runOnce() {
      if (stopped) return 0;
      const items = await deps.inbox.claim(deps.owner, deps.clock.now(), leaseMs, batchSize);
      let next = 0;
      const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
        while (next < items.length && !stopped) await handle(items[next++]!);
      });
      await Promise.all(lanes);
      // Another instance takes these at once instead of after the lease.
      if (next < items.length)
        await deps.inbox.release(
          items.slice(next).map((i) => i.id),
          deps.owner,
        );
      return next;
    },
    stop() {
      stopped = true;
    },
    stats: () => ({ ...stats, rejectedBy: { ...stats.rejectedBy } }),
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
