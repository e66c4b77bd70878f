// Several instances share one PostgreSQL database (issue 7): a change written by another instance never passes
// through this process's in-process feed, so a cheap poll of the timeline brings it here. Every change to an
// emergency writes a timeline event in the same transaction, and event ids sort by time, so "events since a
// moment" is one range scan of the primary key. PostgreSQL's LISTEN/NOTIFY could replace the poll later; the
// poll stays correct without it and costs one indexed query a second.
import type { Clock } from "../core/clock.ts";
import type { EmergencyChangeSource, EmergencyFeed } from "../core/emergency-feed.ts";
import type { FlowLog } from "./process-inbox.ts";

export interface EmergencyChangePollerDeps {
  source: EmergencyChangeSource;
  feed: EmergencyFeed;
  clock: Clock;
  /** Between polls; default 1000 ms. */
  intervalMs?: number;
  /**
   * How far back each poll looks (default 60 s): a transaction that commits late, or an instance whose clock is
   * a little behind, writes events stamped before the previous poll; looking back this far still finds them.
   */
  lookBackMs?: number;
  log?: FlowLog;
}

export interface EmergencyChangePoller {
  /** One poll: publishes the emergencies with events not seen before. Returns how many it published. */
  pollOnce(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

const PAGE = 500;

export function createEmergencyChangePoller(deps: EmergencyChangePollerDeps): EmergencyChangePoller {
  const intervalMs = deps.intervalMs ?? 1000;
  const lookBackMs = deps.lookBackMs ?? 60_000;
  // Event id -> its time, for the events inside the look-back window (the ones a poll can return again).
  const seen = new Map<string, number>();
  let primed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  async function poll(): Promise<number> {
    const fromAt = deps.clock.now() - lookBackMs;
    const changed = new Set<string>();
    let afterId: string | undefined;
    for (;;) {
      const rows = await deps.source.changesSince(fromAt, afterId, PAGE);
      for (const row of rows) {
        if (seen.has(row.id)) continue;
        seen.set(row.id, row.at);
        changed.add(row.emergencyId);
      }
      if (rows.length < PAGE) break;
      afterId = rows[rows.length - 1]!.id;
    }
    for (const [id, at] of seen) if (at < fromAt) seen.delete(id);
    // The first poll only learns what exists: the board reads current state when it opens anyway.
    if (!primed) {
      primed = true;
      return 0;
    }
    for (const emergencyId of changed) deps.feed.publish(emergencyId);
    return changed.size;
  }

  function pollOnce(): Promise<number> {
    running ??= poll().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    pollOnce,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        pollOnce().catch((error: unknown) =>
          deps.log?.warn({ err: error }, "could not poll emergency changes; retrying"),
        );
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => {});
    },
  };
}
