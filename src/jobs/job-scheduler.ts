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

const DEFAULT_LEASE_MS = 5 * 60_000;
// Small claims spread due jobs over the instances sharing the database instead of one taking them all.
const BATCH = 5;

/** Retry-After carried by an error (e.g. GraphRequestError), capped at a day; 0 when there is none. */
function retryAfterMsOf(error: unknown): number {
  const value = (error as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.min(value, 86_400_000) : 0;
}

/**
 * Decides when; the flows decide what. A handler that throws is retried with backoff (30 s doubling to 1 h, and
 * never sooner than the error's `retryAfterMs`): jobs are never dropped, because a silently lost refresh timer is
 * a missed emergency later.
 *
 * Several instances share the jobs table: each due job is claimed by one of them for `leaseMs`, extended every
 * third of it while held, so a live instance keeps a slow job and a dead one's jobs come back within one lease.
 * `stop()` finishes the job in hand and hands the rest of its claim back at once.
 */
export function createJobScheduler(deps: {
  store: JobStore;
  clock: Clock;
  owner: string;
  handlers: Record<string, JobHandler>;
  onError: (job: Job, error: unknown) => void;
  /** How long a claim lasts without being extended (a dead instance's jobs wait this long). Default 5 minutes. */
  leaseMs?: number;
}): JobScheduler {
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopping = false;
  let stopped = true;
  /** Claimed and not yet finished: what the heartbeat extends. */
  const held = new Set<string>();
  let heartbeat: NodeJS.Timeout | undefined;

  function startHeartbeat(): void {
    heartbeat ??= setInterval(() => {
      if (held.size === 0) return;
      deps.store.extend([...held], deps.owner, deps.clock.now() + leaseMs).catch(() => {
        // A missed extension only risks a takeover if the outage outlasts the rest of the lease.
      });
    }, leaseMs / 3);
    heartbeat.unref();
  }

  async function runOnce(): Promise<number> {
    let ran = 0;
    startHeartbeat();
    try {
      while (!stopping) {
        const now = deps.clock.now();
        const jobs = await deps.store.claimDue(deps.owner, now, leaseMs, BATCH);
        if (jobs.length === 0) return ran;
        for (const job of jobs) held.add(job.id);
        for (const [index, job] of jobs.entries()) {
          if (stopping) {
            const unstarted = jobs.slice(index).map((j) => j.id);
            await deps.store.release(unstarted, deps.owner);
            for (const id of unstarted) held.delete(id);
            break;
          }
          ran += await runJob(job);
        }
      }
      return ran;
    } finally {
      clearInterval(heartbeat);
      heartbeat = undefined;
    }
  }

  async function runJob(job: Job): Promise<number> {
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
    } finally {
      held.delete(job.id);
    }
    return 1;
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
      stopping = false;
      timer = setInterval(() => {
        runDue().catch(() => {});
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      stopping = true;
      if (timer) clearInterval(timer);
      await running?.catch(() => {});
    },
    isRunning: () => !stopped,
  };
}
