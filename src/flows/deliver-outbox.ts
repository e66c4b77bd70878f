// The outbox worker: sends claimed deliveries through their channels and records every attempt. At least once:
// a row is leased before it is sent and finished after, so a crash leaves it to whoever claims it after the lease
// (the message id stays the delivery id, and receivers dedupe on it). Retries are bounded and back off
// (core/outbox-retry-policy.ts); a 410 disables the channel; what cannot be delivered becomes a dead letter that
// an operator can replay. Each row has its own job at its next due time, so retries and takeovers happen on time
// whether or not this process is the one that claimed it.
import type { ChannelDrivers } from "../core/alert-channel.ts";
import type { ChannelRepository, JobChanges, OutboxRepository } from "../core/alert-ports.ts";
import type { ChannelSendResult } from "../core/alert.ts";
import type { Clock } from "../core/clock.ts";
import type { ClaimedDelivery, Delivery } from "../core/delivery.ts";
import type { NewTimelineEvent } from "../core/emergency-record.ts";
import { RelayError } from "../core/errors.ts";
import {
  EMERGENCY_RETRY,
  OPERATIONAL_RETRY,
  decideAfterAttempt,
  type AttemptDecision,
} from "../core/outbox-retry-policy.ts";
import type { EventSink, JobQueue } from "../core/ports.ts";
import type { FlowLog } from "./process-inbox.ts";

/** Job kind; main registers `worker.runJob(deliveryId)` for it. One job per pending row. */
export const JOB_ALERT_DELIVER = "alert.deliver";

export function deliveryJobKey(deliveryId: string): string {
  return `${JOB_ALERT_DELIVER}:${deliveryId}`;
}

/** The job that takes a row over if its claimer dies before finishing it. */
export function deliveryJob(delivery: { id: string; orgId: string }, runAt: number) {
  return { kind: JOB_ALERT_DELIVER, orgId: delivery.orgId, dedupeKey: deliveryJobKey(delivery.id), runAt };
}

/** What a finished attempt tells metrics. */
export interface AttemptObservation {
  delivery: ClaimedDelivery;
  result: ChannelSendResult;
  latencyMs: number;
  /** From the row's creation (the emergency being stored) to this attempt's start. */
  sinceCreatedMs: number;
}

export interface OutboxWorkerDeps {
  outbox: OutboxRepository;
  channels: ChannelRepository;
  drivers: Pick<ChannelDrivers, "send">;
  events: EventSink;
  jobs: JobQueue;
  clock: Clock;
  /** This process, as the lease owner. */
  owner: string;
  /** Longer than one send can take (the channel timeout), so a live sender never loses its row. */
  leaseMs: number;
  random?: () => number;
  log?: FlowLog;
  /** Rows claimed per round; default 50. */
  batchSize?: number;
  /** Sends at once; default 8. */
  concurrency?: number;
  observe?: (observation: AttemptObservation) => void;
}

export interface OutboxWorker {
  /** Sends rows this process already holds (just raised); resolves when they are finished. */
  dispatch(claimed: readonly ClaimedDelivery[]): Promise<void>;
  /** Claims and sends due rows until none is left; concurrent calls fold into one more pass. */
  drain(): Promise<number>;
  /** `drain` without waiting; failures are logged. */
  wake(): void;
  /** The job of one row: a drain, then the row's job again if it is still pending (someone else holds it). */
  runJob(deliveryId: string): Promise<void>;
  /** Start-up: every pending row gets its job back (a crash may have lost one); due ones are sent soon after. */
  recover(): Promise<void>;
  /** A dead letter back in the outbox with a fresh retry budget. */
  replay(deliveryId: string): Promise<Delivery>;
  /** Resolves when nothing is being sent. */
  idle(): Promise<void>;
  /**
   * Stops claiming and starting sends; rows claimed but not started are handed back, due at once for any instance.
   * Sends in flight get `graceMs` (default 0) to finish, then are aborted (they finish as retries); resolves when
   * none is left.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

const nothingToLog: FlowLog = { info() {}, warn() {}, error() {} };

export function createOutboxWorker(deps: OutboxWorkerDeps): OutboxWorker {
  const log = deps.log ?? nothingToLog;
  const random = deps.random ?? Math.random;
  const batchSize = deps.batchSize ?? 50;
  const concurrency = Math.max(1, deps.concurrency ?? 8);
  const abort = new AbortController();
  const inFlight = new Set<Promise<void>>();
  /** Batches being sent: each ends by handing back what it did not start. */
  const dispatching = new Set<Promise<void>>();
  let draining: Promise<number> | undefined;
  let drainAgain = false;
  let closed = false;

  function track(work: Promise<void>): Promise<void> {
    inFlight.add(work);
    return work.finally(() => inFlight.delete(work));
  }

  function dispatch(claimed: readonly ClaimedDelivery[]): Promise<void> {
    const work = dispatchAll(claimed).finally(() => dispatching.delete(work));
    dispatching.add(work);
    return work;
  }

  async function dispatchAll(claimed: readonly ClaimedDelivery[]): Promise<void> {
    const started = await runLimited(
      claimed,
      concurrency,
      (delivery) =>
        track(
          // The row stays leased; its job takes it over when the lease runs out.
          attempt(delivery).catch((error: unknown) =>
            log.error({ deliveryId: delivery.id, err: error }, "could not finish an alert delivery attempt"),
          ),
        ),
      () => closed,
    );
    if (started < claimed.length) await release(claimed.slice(started));
  }

  /** Never sent: back to the outbox with their jobs due now, so another instance sends them without waiting. */
  async function release(unsent: readonly ClaimedDelivery[]): Promise<void> {
    const now = deps.clock.now();
    try {
      await deps.outbox.release(
        unsent.map((d) => d.id),
        deps.owner,
        { schedule: unsent.map((d) => deliveryJob(d, now)) },
        now,
      );
    } catch (error) {
      log.error({ err: error }, "could not hand unsent alerts back; they are sent after their lease");
    }
  }

  async function attempt(delivery: ClaimedDelivery): Promise<void> {
    const startedAt = deps.clock.now();
    const started = performance.now();
    const result = await send(delivery);
    const latencyMs = performance.now() - started;
    const now = deps.clock.now();
    const limits = delivery.purpose === "operational" ? OPERATIONAL_RETRY : EMERGENCY_RETRY;
    const decision = decideAfterAttempt({
      result,
      attempts: delivery.attempts,
      maxAttempts: delivery.maxAttempts,
      deadlineAt: delivery.deadlineAt,
      now,
      random: random(),
      limits,
    });
    deps.observe?.({ delivery, result, latencyMs, sinceCreatedMs: startedAt - delivery.createdAt });
    const jobs: JobChanges =
      decision.status === "retry"
        ? { schedule: [deliveryJob(delivery, decision.at)] }
        : { unschedule: [deliveryJobKey(delivery.id)] };
    const held = await deps.outbox.finish({
      id: delivery.id,
      owner: deps.owner,
      now,
      attempt: {
        attempt: delivery.attempts,
        startedAt,
        latencyMs,
        outcome: result.outcome,
        statusCode: result.status,
        detail: result.detail ?? null,
      },
      decision: decision.status === "dead" ? { status: "dead", reason: decision.reason } : decision,
      timeline: timelineFor(delivery, result, decision, latencyMs, now),
      jobs,
      ...(decision.status === "dead" && decision.disableChannel
        ? {
            disableChannel: {
              id: delivery.channelId,
              reason: `HTTP 410 Gone from the receiver at ${iso(now)}`,
            },
          }
        : {}),
    });
    log.info(
      {
        deliveryId: delivery.id,
        emergencyId: delivery.emergencyId,
        channelId: delivery.channelId,
        attempt: delivery.attempts,
        outcome: result.outcome,
        status: result.status,
        latencyMs: Math.round(latencyMs),
        next: decision.status,
        leaseHeld: held,
      },
      "alert delivery attempt",
    );
    if (!held) return;
    await report(delivery, decision);
  }

  async function send(delivery: ClaimedDelivery): Promise<ChannelSendResult> {
    try {
      const found = await deps.channels.withSecrets(delivery.channelId);
      if (found === undefined) return { outcome: "failed", status: null, detail: "the channel was deleted" };
      if (!found.channel.enabled) {
        const why = found.channel.disabledReason ? ` (${found.channel.disabledReason})` : "";
        return {
          outcome: "failed",
          status: null,
          detail: `the channel is disabled${why}; enable it and replay`,
        };
      }
      return await deps.drivers.send(delivery.message, found.target, { signal: abort.signal });
    } catch (error) {
      if (error instanceof RelayError && error.code === "ERR_SECRET_UNREADABLE") {
        return {
          outcome: "failed",
          status: null,
          detail:
            "the channel's stored secrets cannot be opened (RELAY_ENCRYPTION_KEY changed?); save the channel again",
        };
      }
      // Channels never throw by contract; a bug or a storage hiccup here is retried like a network failure.
      log.error({ deliveryId: delivery.id, err: error }, "alert delivery failed unexpectedly; retrying");
      return {
        outcome: "retry",
        status: null,
        retryAfterMs: null,
        detail: "internal error (see the relay's log)",
      };
    }
  }

  /** Dead letters and disabled channels are operational problems: people must hear about them. */
  async function report(delivery: ClaimedDelivery, decision: AttemptDecision): Promise<void> {
    if (decision.status !== "dead") return;
    try {
      if (decision.disableChannel) {
        await deps.events.append({
          orgId: delivery.orgId,
          kind: "channel_disabled",
          severity: "warning",
          message: `Alert channel "${delivery.channelName}" answered 410 Gone and was disabled; fix and re-enable it.`,
          details: { channelId: delivery.channelId, deliveryId: delivery.id },
        });
      }
      // An operations alert that fails is not reported through operations alerts again (no loops).
      if (delivery.purpose !== "operational") {
        await deps.events.append({
          orgId: delivery.orgId,
          kind: "alert_delivery_failed",
          severity: delivery.message.isTestCall ? "warning" : "error",
          message: `An alert could not be delivered to "${delivery.channelName}": ${decision.reason}. Replay it once the channel works.`,
          details: {
            deliveryId: delivery.id,
            emergencyId: delivery.emergencyId,
            channelId: delivery.channelId,
          },
        });
      }
    } catch (error) {
      log.error({ deliveryId: delivery.id, err: error }, "could not record an alert delivery problem");
    }
  }

  async function drainOnce(): Promise<number> {
    let total = 0;
    while (!closed) {
      // No more than can be sent at once: a claimed row waiting for a free lane could outlive its lease and be
      // sent by another instance as well.
      const claimed = await deps.outbox.claim(
        deps.owner,
        deps.clock.now(),
        deps.leaseMs,
        Math.min(batchSize, concurrency),
      );
      if (claimed.length === 0) break;
      await dispatch(claimed);
      total += claimed.length;
    }
    return total;
  }

  function drain(): Promise<number> {
    if (draining) {
      drainAgain = true;
      return draining;
    }
    draining = (async () => {
      let total = 0;
      do {
        drainAgain = false;
        total += await drainOnce();
      } while (drainAgain && !closed);
      return total;
    })().finally(() => {
      draining = undefined;
    });
    return draining;
  }

  function wake(): void {
    if (!closed)
      drain().catch((error: unknown) => log.error({ err: error }, "outbox worker failed; retrying"));
  }

  return {
    dispatch,
    drain,
    wake,
    async runJob(deliveryId) {
      await drain();
      const row = await deps.outbox.get(deliveryId);
      if (row === undefined || row.status !== "pending") return;
      // Held by another live worker, or not due yet: come back when it needs a worker.
      const at = Math.max(row.nextAttemptAt, row.lockedUntil ?? 0, deps.clock.now() + 1000);
      await deps.jobs.schedule(deliveryJob(row, at), deps.clock.now());
    },
    async recover() {
      const now = deps.clock.now();
      for (const row of await deps.outbox.pendingDueTimes()) {
        await deps.jobs.schedule(deliveryJob(row, Math.max(row.at, now)), now);
      }
      wake();
    },
    async replay(deliveryId) {
      const current = await deps.outbox.get(deliveryId);
      if (current === undefined) throw new RelayError("ERR_NOT_FOUND", `Delivery ${deliveryId} not found`);
      if (current.status !== "dead") {
        throw new RelayError(
          "ERR_DELIVERY_STATE",
          `Delivery ${deliveryId} is ${current.status}; only dead deliveries can be replayed`,
        );
      }
      const channel = await deps.channels.withSecrets(current.channelId);
      if (channel === undefined || !channel.channel.enabled) {
        throw new RelayError(
          "ERR_CHANNEL_DISABLED",
          `Channel ${current.channelId} is ${channel === undefined ? "deleted" : "disabled"}; enable it (or route to another channel) before replaying`,
        );
      }
      const now = deps.clock.now();
      const limits = current.purpose === "operational" ? OPERATIONAL_RETRY : EMERGENCY_RETRY;
      const timeline: NewTimelineEvent[] =
        current.emergencyId === null
          ? []
          : [
              {
                emergencyId: current.emergencyId,
                at: now,
                kind: "replayed",
                message: `Delivery to ${current.channelName} replayed by an admin`,
                details: { deliveryId, channelId: current.channelId },
              },
            ];
      const result = await deps.outbox.replay(deliveryId, {
        now,
        maxAttempts: limits.maxAttempts,
        windowMs: limits.windowMs,
        timeline,
        jobs: { schedule: [deliveryJob(current, now)] },
      });
      if (result === undefined) throw new RelayError("ERR_NOT_FOUND", `Delivery ${deliveryId} not found`);
      if (!result.replayed) {
        throw new RelayError("ERR_DELIVERY_STATE", `Delivery ${deliveryId} is no longer dead`);
      }
      wake();
      return result.delivery;
    },
    async idle() {
      while (inFlight.size > 0 || draining) {
        await Promise.allSettled([...inFlight, draining]);
      }
    },
    async close(options = {}) {
      closed = true;
      const busy = () => Promise.allSettled([...inFlight, ...dispatching, draining]);
      if ((options.graceMs ?? 0) > 0) {
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.graceMs)));
        await Promise.race([busy(), grace]);
        clearTimeout(timer);
      }
      abort.abort();
      await busy();
      // Rows whose attempt could not be recorded (storage trouble) would otherwise wait out their lease.
      const now = deps.clock.now();
      await deps.outbox
        .releaseAllOf(deps.owner, now, (released) => ({
          schedule: released.map((row) => deliveryJob(row, now)),
        }))
        .catch((error: unknown) => log.error({ err: error }, "could not hand the last alerts back"));
    },
  };
}

function timelineFor(
  delivery: ClaimedDelivery,
  result: ChannelSendResult,
  decision: AttemptDecision,
  latencyMs: number,
  now: number,
): NewTimelineEvent[] {
  if (delivery.emergencyId === null) return [];
  const emergencyId = delivery.emergencyId;
  const base = {
    deliveryId: delivery.id,
    channelId: delivery.channelId,
    channelName: delivery.channelName,
    tier: delivery.tier,
  };
  const status = result.status === null ? "" : ` (HTTP ${result.status})`;
  const events: NewTimelineEvent[] = [
    {
      emergencyId,
      at: now,
      kind: "attempt",
      message: `Attempt ${delivery.attempts} to ${delivery.channelName}: ${result.outcome}${status} in ${Math.round(latencyMs)} ms`,
      details: {
        ...base,
        attempt: delivery.attempts,
        outcome: result.outcome,
        statusCode: result.status,
        latencyMs: Math.round(latencyMs),
        detail: result.detail ?? null,
        ...(decision.status === "retry" ? { nextAttemptAt: decision.at } : {}),
      },
    },
  ];
  if (decision.status === "delivered") {
    events.push({
      emergencyId,
      at: now,
      kind: "delivered",
      message: `Delivered to ${delivery.channelName}`,
      details: { ...base, attempts: delivery.attempts, deliveredAfterMs: now - delivery.createdAt },
    });
  } else if (decision.status === "dead") {
    events.push({
      emergencyId,
      at: now,
      kind: "dead",
      message: `Gave up on ${delivery.channelName}: ${decision.reason}`,
      details: { ...base, attempts: delivery.attempts, reason: decision.reason },
    });
    if (decision.disableChannel) {
      events.push({
        emergencyId,
        at: now,
        kind: "channel_disabled",
        message: `${delivery.channelName} answered 410 Gone and was disabled`,
        details: base,
      });
    }
  }
  return events;
}

/** Runs `run` over `items`, `limit` at a time, starting no more once `stop()` is true; returns how many started. */
async function runLimited<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<number> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !stop()) await run(items[next++]!);
  });
  await Promise.all(lanes);
  return next;
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
