// Serialises work on one org (token refresh, code redemption) in this process and across instances.
// Why both layers (reference/entra-auth-and-stack.md §2.4(3)): msal's cache plugin is last-writer-wins, so two
// refreshes of one org must never interleave. An in-process keyed mutex queues jobs of this process; the
// database lease keeps other instances out. Refresh tokens stay valid after rotation, so a lost race costs
// little, but concurrent identical requests can trip Entra's loop detection (AADSTS50196).
import type { Clock } from "../core/clock.ts";
import { RelayError } from "../core/errors.ts";

/** What the lock needs from LeaseStore (src/storage/lease-store.ts). */
export interface LeaseBackend {
  tryAcquire(name: string, owner: string, ttlMs: number, now: number): Promise<boolean>;
  release(name: string, owner: string): Promise<unknown>;
}

export interface OrgLockOptions {
  leases: LeaseBackend;
  clock: Clock;
  /** This instance's identity, unique per process (e.g. hostname + pid + random). */
  owner: string;
  sleep: (ms: number) => Promise<void>;
  /** How long a taken lease lasts if this process dies holding it. Default 60 s; keep it above fn's runtime. */
  leaseMs?: number;
  /** How long to keep trying for a lease another instance holds. Default 30 s. */
  waitMs?: number;
  /** Pause between attempts. Default 250 ms. */
  retryIntervalMs?: number;
  /** Releasing failed (the lease then simply expires); for logging. */
  onReleaseError?: (error: unknown, name: string) => void;
}

export interface OrgLock {
  /**
   * Runs `fn` holding `name` both in-process and in the database, and releases both afterwards, also when fn
   * throws. Callers in this process queue in order; throws LockUnavailableError when another instance keeps
   * the lease beyond `waitMs`.
   */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export class LockUnavailableError extends RelayError {
  readonly lockName: string;
  constructor(lockName: string, waitedMs: number) {
    super(
      "ERR_CONFLICT",
      `Could not take the lock "${lockName}" within ${waitedMs} ms: another instance is holding it`,
    );
    this.lockName = lockName;
  }
}

export const DEFAULT_LEASE_MS = 60_000;
export const DEFAULT_LOCK_WAIT_MS = 30_000;
export const DEFAULT_LOCK_RETRY_INTERVAL_MS = 250;

export function createOrgLock(options: OrgLockOptions): OrgLock {
  const { leases, clock, owner, sleep } = options;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  const retryIntervalMs = options.retryIntervalMs ?? DEFAULT_LOCK_RETRY_INTERVAL_MS;
  if (!(leaseMs > 0) || !(waitMs >= 0) || !(retryIntervalMs > 0)) {
    throw new RangeError("leaseMs and retryIntervalMs must be positive, waitMs not negative");
  }
  // The last queued holder per name; an entry disappears when its queue drains.
  const tails = new Map<string, Promise<void>>();

  async function acquireLease(name: string): Promise<void> {
    const started = clock.now();
    let slept = 0;
    for (;;) {
      if (await leases.tryAcquire(name, owner, leaseMs, clock.now())) return;
      // Bounded by the time slept (fake sleeps in tests) and by the clock (slow database round trips).
      const waited = Math.max(slept, clock.now() - started);
      if (waited >= waitMs) throw new LockUnavailableError(name, waitMs);
      const pause = Math.min(retryIntervalMs, waitMs - waited);
      await sleep(pause);
      slept += pause;
    }
  }

  return {
    async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
      const previous = tails.get(name) ?? Promise.resolve();
      let done!: () => void;
      const mine = new Promise<void>((resolve) => (done = resolve));
      const tail = previous.then(() => mine);
      tails.set(name, tail);
      try {
        await previous;
        await acquireLease(name);
        try {
          return await fn();
        } finally {
          try {
            await leases.release(name, owner);
          } catch (error) {
            options.onReleaseError?.(error, name);
          }
        }
      } finally {
        done();
        if (tails.get(name) === tail) tails.delete(name);
      }
    },
  };
}
