// Group commit for the webhook's inbox writes (docs/benchmarks.md, issue 4). Every notification request used to
// run its own transaction, and with SQLite's synchronous=FULL each one paid its own fsync on the event loop.
// Here the batches of requests that arrive together are stored in ONE transaction; each caller's promise settles
// only after that transaction committed (so the route's 202 still means "durably stored"), or rejects when it
// failed (so exactly the requests of a failed group answer 503).
import type { EnqueueCounts, InboxBatch, NewInboxItem } from "./inbox-store.ts";

export type { EnqueueCounts };

/** What the writer needs from the store: InboxStore.enqueueBatches (one transaction, counts per batch). */
export interface BatchInbox {
  enqueueBatches(batches: readonly InboxBatch[]): Promise<EnqueueCounts[]>;
}

export interface GroupCommitOptions {
  /** A group is committed as soon as it holds this many items, without waiting for the next turn. */
  maxItems?: number;
  /**
   * Groups handed to the store before the first has committed. 1 (the default) makes everything that arrives
   * during a commit wait for the next one. The SQLite writer thread takes more: it queues groups (and merges what
   * queued up into one transaction), so the event loop keeps parsing requests while the thread commits.
   */
  maxInFlight?: number;
}

export interface GroupCommitWriter {
  enqueue(items: NewInboxItem[], now: number): Promise<EnqueueCounts>;
  /** Resolves once everything handed in so far has been committed or has failed. */
  flush(): Promise<void>;
}

interface Pending {
  items: NewInboxItem[];
  now: number;
  resolve: (counts: EnqueueCounts) => void;
  reject: (error: unknown) => void;
}

/**
 * Collects concurrent `enqueue` calls and writes them together. A group is flushed on `setImmediate` (after the
 * requests parsed in the current turn of the event loop) or when it reaches `maxItems`. At most `maxInFlight` groups
 * are being written at a time; batches arriving meanwhile form the next group, written as soon as one commits.
 */
export function createGroupCommitWriter(
  inbox: BatchInbox,
  options: GroupCommitOptions = {},
): GroupCommitWriter {
  const maxItems = Math.max(1, options.maxItems ?? 500);
  const maxInFlight = Math.max(1, options.maxInFlight ?? 1);
  let queue: Pending[] = [];
  let queuedItems = 0;
  let scheduled = false;
  const inFlight = new Set<Promise<void>>();

  const schedule = () => {
    if (scheduled || inFlight.size >= maxInFlight) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      start();
    });
  };

  const start = () => {
    if (inFlight.size >= maxInFlight || queue.length === 0) return;
    // Take at most maxItems (but always at least one caller's batch) into this group.
    let count = 0;
    let taken = 0;
    while (taken < queue.length && (taken === 0 || count + queue[taken]!.items.length <= maxItems)) {
      count += queue[taken]!.items.length;
      taken += 1;
    }
    const group = queue.slice(0, taken);
    queue = queue.slice(taken);
    queuedItems -= count;
    const written: Promise<void> = commit(group).finally(() => {
      inFlight.delete(written);
      if (queuedItems >= maxItems) start();
      else if (queue.length > 0) schedule();
    });
    inFlight.add(written);
  };

  const commit = async (group: Pending[]) => {
    let results: EnqueueCounts[];
    try {
      results = await inbox.enqueueBatches(group.map(({ items, now }) => ({ items, now })));
    } catch (error) {
      for (const pending of group) pending.reject(error);
      return;
    }
    group.forEach((pending, index) => pending.resolve(results[index]!));
  };

  return {
    enqueue(items, now) {
      if (items.length === 0) return Promise.resolve({ stored: 0, duplicates: 0 });
      return new Promise<EnqueueCounts>((resolve, reject) => {
        queue.push({ items, now, resolve, reject });
        queuedItems += items.length;
        if (queuedItems >= maxItems) start();
        else schedule();
      });
    },
    async flush() {
      while (inFlight.size > 0 || queue.length > 0) {
        start();
        await Promise.race(inFlight);
      }
    },
  };
}
