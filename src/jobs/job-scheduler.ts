import type { Clock } from "../core/clock.ts";
import type { Job, JobStore } from "../storage/job-store.ts";

export type JobHandler = (job: Job) => Promise<void>;

export interface JobScheduler {
  /** Runs every job due by the clock now, one after another; returns how many ran. */
  runDue(): Promise<number>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
  isRunning(): boolean;
}

const LEASE_MS = 5 * 60_000;
const BATCH = 20;

/** Retry-After carried by an error (e.g. GraphRequestError), capped at a day; 0 when there is none. */
function retryAfterMsOf(error: unknown): number {
  const value = (error as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.min(value, 86_400_000) : 0;
}

/**
 * Decides when; the flows decide what. A handler that throws is retried with backoff (30 s doubling to 1 h, and
 * never sooner than the error's `retryAfterMs`): jobs are never dropped, because a silently lost refresh timer is
 * a missed emergency later.
 */
export function createJobScheduler(deps: {
  store: JobStore;
  clock: Clock;
  owner: string;
  handlers: Record<string, JobHandler>;
  onError: (job: Job, error: unknown) => void;
}): JobScheduler {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = true;

  async function runOnce(): Promise<number> {
    let ran = 0;
    for (;;) {
      const now = deps.clock.now();
      const jobs = await deps.store.claimDue(deps.owner, now, LEASE_MS, BATCH);
      if (jobs.length === 0) return ran;
      for (const job of jobs) {
        const handler = deps.handlers[job.kind];
        try {
          if (!handler) throw new Error(`no handler for job kind ${job.kind}`);
          await handler(job);
          await deps.store.complete(job, deps.owner);
        } catch (error) {
          deps.onError(job, error);
          // A handler that failed on a throttled call rethrows an error carrying `retryAfterMs` (Graph's
          // Retry-After): the next attempt never comes sooner than that.
          const delay = Math.max(Math.min(30_000 * 2 ** job.attempts, 3_600_000), retryAfterMsOf(error));
          await deps.store.fail(
            job,
            deps.owner,
            error instanceof Error ? error.message : String(error),
            deps.clock.now() + delay,
          );
        }
        ran += 1;
      }
    }
  }

  function runDue(): Promise<number> {
    // One pass at a time per process: the interval and a test's explicit call share it.
    running ??= runOnce().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    runDue,
    start(intervalMs) {
      stopped = false;
      timer = setInterval(() => {
        runDue().catch(() => {});
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running?.catch(() => {});
    },
    isRunning: () => !stopped,
  };
}
