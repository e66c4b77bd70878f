// The polling safety net (reference/graph-change-notifications.md §7.4): Teams sends no `missed` lifecycle events,
// and throttled or removed subscriptions lose notifications silently, so each org's recently active chats are read
// on a timer and every message feeds the same dedupe and hand-off as notifications. A message that only polling
// found is a "webhook delivery gap", the key health signal of the webhook path.
import { setTimeout as delay } from "node:timers/promises";
import { isRecord, stringOf, timeOf } from "../core/chat-message.ts";
import type { Clock } from "../core/clock.ts";
import type { NewMessageHandler } from "../core/intake-ports.ts";
import type { GraphReader, PollWatermarkRepository, SeenMessageRepository } from "../core/message-ports.ts";
import type { EventSink, JobQueue } from "../core/ports.ts";
import { chatListKeys, chatMessageKeys, type RateLimiter } from "../core/rate-limiter.ts";
import type { FlowLog } from "./process-inbox.ts";

/** Job kind; main registers `reconciler.runJob(job.orgId)` for it. */
export const JOB_RECONCILE_MESSAGES = "reconcile.messages";
export const RECONCILE_INTERVAL_MS = 5 * 60_000;

export interface ReconcileResult {
  /** Chats whose last message is inside the window, whose messages were read. */
  chatsScanned: number;
  /** Messages Graph returned for those chats (already known ones included). */
  messagesSeen: number;
  /** Messages new to the relay, handed to detection by this pass. */
  newMessages: number;
  /** Of those, messages older than the grace period: notifications that never came. */
  gaps: number;
  /** The watermark after the pass (ms). */
  watermark: number;
}

export interface MessageReconcilerDeps {
  graph: GraphReader;
  seen: SeenMessageRepository;
  watermarks: PollWatermarkRepository;
  onNewMessage: NewMessageHandler;
  events: EventSink;
  clock: Clock;
  /** Shared with the inbox worker. */
  limiter: RateLimiter;
  /** Needed by `runJob`, `requestSoon` and `scheduleAtStartup` only. */
  jobs?: JobQueue;
  /** Each pass re-reads this much before the watermark (late-listed messages, clock skew); default 5 minutes. */
  overlapMs?: number;
  /** A message younger than this may still have its notification on the way: not a gap; default 2 minutes. */
  gapGraceMs?: number;
  /** The first pass of an org looks back this far; default 24 hours. */
  firstRunLookbackMs?: number;
  intervalMs?: number;
  log?: FlowLog;
  sleep?: (ms: number) => Promise<void>;
}

export interface MessageReconciler {
  /** One complete pass for the org; throws (after reporting any gaps found) if Graph or storage fails. */
  reconcile(orgId: string): Promise<ReconcileResult>;
  /** The job handler: a pass, then the next one `intervalMs` later (on failure the scheduler's backoff applies). */
  runJob(orgId: string): Promise<ReconcileResult>;
  /** A pass as soon as the scheduler runs: after a lifecycle event, a (re)created subscription or a reconnect. */
  requestSoon(orgId: string): Promise<void>;
  /** Start-up: a pass now for each org (moving its pending one forward; it never postpones one). */
  scheduleAtStartup(orgIds: readonly string[]): Promise<void>;
}

interface Page<T> {
  value?: T[];
  "@odata.nextLink"?: string;
}

const TOP = 50;

export function createMessageReconciler(deps: MessageReconcilerDeps): MessageReconciler {
  const overlapMs = deps.overlapMs ?? 5 * 60_000;
  const graceMs = deps.gapGraceMs ?? 2 * 60_000;
  const lookbackMs = deps.firstRunLookbackMs ?? 24 * 3_600_000;
  const intervalMs = deps.intervalMs ?? RECONCILE_INTERVAL_MS;
  const sleep = deps.sleep ?? ((ms: number) => delay(ms).then(() => {}));
  const jobKey = (orgId: string) => `${JOB_RECONCILE_MESSAGES}:${orgId}`;

  /** One Graph GET within the rate limits of `keys`. */
  async function get<T>(orgId: string, keys: string[], path: string): Promise<Page<T>> {
    const wait = deps.limiter.reserve(keys, deps.clock.now());
    if (wait > 0) await sleep(wait);
    const response = await deps.graph.request<Page<T>>(orgId, "GET", path);
    return isRecord(response.body) ? response.body : {};
  }

  /** Ids of the chats with a message created after `since`, newest first; stops paging at the first older one. */
  async function activeChats(orgId: string, since: number): Promise<string[]> {
    const active: string[] = [];
    // Ordering by the preview works without the expand, but the preview itself comes only when expanded.
    let next: string | undefined =
      `/me/chats?$expand=lastMessagePreview&$orderby=${encodeURIComponent("lastMessagePreview/createdDateTime desc")}&$top=${TOP}`;
    while (next) {
      const page: Page<Record<string, unknown>> = await get(orgId, chatListKeys(orgId), next);
      let older = false;
      for (const chat of page.value ?? []) {
        const preview = isRecord(chat.lastMessagePreview) ? chat.lastMessagePreview : undefined;
        const last = preview ? timeOf(preview, "createdDateTime") : null;
        const id = stringOf(chat, "id");
        // Chats without messages sort last; everything from here on is older than the window.
        if (last === null || last <= since) older = true;
        else if (id) active.push(id);
      }
      next = older ? undefined : page["@odata.nextLink"];
    }
    return active;
  }

  async function reconcile(orgId: string): Promise<ReconcileResult> {
    const started = deps.clock.now();
    const stored = await deps.watermarks.get(orgId);
    const base = stored ?? started - lookbackMs;
    const since = base - overlapMs;
    const result: ReconcileResult = {
      chatsScanned: 0,
      messagesSeen: 0,
      newMessages: 0,
      gaps: 0,
      watermark: base,
    };
    const gapChats = new Set<string>();
    let newest = base;
    try {
      const chats = await activeChats(orgId, since);
      // `$filter` is honoured only with an `$orderby` on the same property; otherwise Graph silently ignores it
      // and returns the whole history (reference §7.4).
      const query =
        `$orderby=${encodeURIComponent("lastModifiedDateTime desc")}` +
        `&$filter=${encodeURIComponent(`lastModifiedDateTime gt ${new Date(since).toISOString()}`)}` +
        `&$top=${TOP}`;
      for (const chatId of chats) {
        result.chatsScanned += 1;
        let next: string | undefined = `/chats/${encodeURIComponent(chatId)}/messages?${query}`;
        while (next) {
          const page: Page<Record<string, unknown>> = await get(orgId, chatMessageKeys(orgId, chatId), next);
          let reachedOlder = false;
          for (const message of page.value ?? []) {
            if (!isRecord(message)) continue;
            result.messagesSeen += 1;
            const modified = timeOf(message, "lastModifiedDateTime");
            // Newest first: should Graph ever ignore the filter, stop at the window instead of reading history.
            if (modified !== null && modified <= since) {
              reachedOlder = true;
              continue;
            }
            if (modified !== null) newest = Math.max(newest, modified);
            const created = timeOf(message, "createdDateTime");
            // An edit of a message created before the window: handled when it was new, or before the relay's time.
            if (created !== null && created <= since) continue;
            const messageId = stringOf(message, "id");
            if (!messageId) continue;
            const key = { orgId, chatId: stringOf(message, "chatId") ?? chatId, messageId };
            const claim = await deps.seen.claim(
              { ...key, source: "polling", messageCreatedAt: created },
              deps.clock.now(),
            );
            // `in_progress`: the inbox worker is handing it over right now; its notification arrived.
            if (claim.status !== "new") continue;
            try {
              await deps.onNewMessage(orgId, message, "polling");
            } catch (error) {
              await deps.seen.release(key);
              throw error;
            }
            await deps.seen.confirm(key, deps.clock.now());
            result.newMessages += 1;
            if (created === null || created < started - graceMs) {
              result.gaps += 1;
              gapChats.add(key.chatId);
            }
          }
          next = reachedOlder ? undefined : page["@odata.nextLink"];
        }
      }
      // Only a complete pass moves the watermark; never past our own clock (a skewed timestamp would skip ahead).
      const watermark = Math.min(newest, started);
      if (stored === undefined || watermark > stored)
        await deps.watermarks.advance(orgId, watermark, deps.clock.now());
      result.watermark = Math.max(watermark, stored ?? watermark);
      return result;
    } finally {
      // Reported even when the pass failed later: these messages are marked seen and would not count again.
      if (result.gaps > 0) {
        await deps.events.append({
          orgId,
          kind: "webhook_delivery_gap",
          severity: "error",
          message: `${result.gaps} Teams message${result.gaps === 1 ? "" : "s"} reached the relay only through polling: their webhook notifications never arrived.`,
          details: {
            count: result.gaps,
            chats: gapChats.size,
            windowStart: new Date(since).toISOString(),
          },
        });
        deps.log?.warn({ orgId, gaps: result.gaps, chats: gapChats.size }, "webhook delivery gap");
      }
    }
  }

  async function scheduleNow(orgId: string): Promise<void> {
    const now = deps.clock.now();
    await requireJobs().schedule(
      { kind: JOB_RECONCILE_MESSAGES, orgId, dedupeKey: jobKey(orgId), runAt: now },
      now,
    );
  }

  function requireJobs() {
    if (!deps.jobs) throw new Error("createMessageReconciler: `jobs` is needed for scheduling");
    return deps.jobs;
  }

  return {
    reconcile,
    async runJob(orgId) {
      const result = await reconcile(orgId);
      const now = deps.clock.now();
      await requireJobs().schedule(
        { kind: JOB_RECONCILE_MESSAGES, orgId, dedupeKey: jobKey(orgId), runAt: now + intervalMs },
        now,
      );
      return result;
    },
    requestSoon: (orgId) => scheduleNow(orgId),
    async scheduleAtStartup(orgIds) {
      for (const orgId of orgIds) await scheduleNow(orgId);
    },
  };
}
