// Moves the webhook's inbox inserts off the event loop (docs/benchmarks.md, issue 4). With SQLite every COMMIT is a
// synchronous WAL write and fsync (synchronous=FULL) on the calling thread; on the event loop it stalled every other
// request for its duration. A worker thread with its own connection to the same file does the inserts; the event
// loop only hands batches over and answers 202 when the thread reports the commit. PostgreSQL needs none of this.
import { MessageChannel, Worker } from "node:worker_threads";
import { RelayError } from "../core/errors.ts";
import type { BatchInbox, EnqueueCounts } from "./group-commit-inbox.ts";
import { countsPerBatch, inboxRowsOf } from "./inbox-store.ts";
import { inboxRowValues, type WriterReplies, type WriterRequest } from "./sqlite-inbox-writer-protocol.ts";

export interface SqliteInboxWriter extends BatchInbox {
  /** Waits for what was handed over, then closes the thread's connection. */
  close(): Promise<void>;
}

/** The thread's entry: the `.ts` source under tsx, the compiled `.js` under dist/. */
function threadEntry(): URL {
  const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./sqlite-inbox-writer-thread${extension}`, import.meta.url);
}

/**
 * A worker thread's module loader does not inherit hooks registered at run time (bin/ registers tsx that way), so
 * a `.ts` entry is loaded through tsx's API inside the thread.
 */
function workerScript(entry: URL): { script: string | URL; eval: boolean } {
  if (!entry.pathname.endsWith(".ts")) return { script: entry, eval: false };
  const tsx = import.meta.resolve("tsx/esm/api");
  return {
    script: `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); });`,
    eval: true,
  };
}

export async function startSqliteInboxWriter(file: string): Promise<SqliteInboxWriter> {
  const { script, eval: isEval } = workerScript(threadEntry());
  // A port of its own (not the parent port), so the thread can drain what queued up without waiting for events.
  const { port1: port, port2 } = new MessageChannel();
  const worker = new Worker(script, {
    eval: isEval,
    workerData: { file, port: port2 },
    transferList: [port2],
  });
  const pending = new Map<number, { resolve: (inserted: string[]) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let failure: Error | undefined;

  const failAll = (error: Error) => {
    failure ??= error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(storageError("could not start", error));
    worker.once("error", onError);
    port.once("message", (message) => {
      worker.off("error", onError);
      if (message === "ready") resolve();
      else reject(storageError("did not start", new Error(String(message))));
    });
  });

  // The HTTP server keeps the process alive while requests are in flight; the thread alone must not.
  worker.unref();
  port.unref();
  port.on("message", ({ replies }: WriterReplies) => {
    for (const reply of replies) {
      const waiting = pending.get(reply.id);
      if (!waiting) continue;
      pending.delete(reply.id);
      if ("inserted" in reply) waiting.resolve(reply.inserted);
      else waiting.reject(storageError("failed", Object.assign(new Error(reply.error.message), reply.error)));
    }
  });
  // Nothing handed over is acknowledged unless the thread reported its commit: callers answer 503 instead.
  worker.on("error", (error) => failAll(storageError("crashed", error)));
  worker.on("exit", (code) => failAll(storageError(`exited (code ${code})`, new Error("thread exited"))));

  const inFlight = new Set<Promise<EnqueueCounts[]>>();
  let closing: Promise<void> | undefined;
  return {
    enqueueBatches(batches) {
      if (failure || closing)
        return Promise.reject(failure ?? storageError("is closed", new Error("closed")));
      // Rows are built (and their payloads JSON-encoded) here, not in the thread: see the protocol module.
      const { rows, owner, tokens } = inboxRowsOf(batches);
      if (rows.length === 0) return Promise.resolve(countsPerBatch(batches, owner, []));
      const id = nextId++;
      const request = new Promise<string[]>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        port.postMessage({
          id,
          tokens: tokens.map((t) => [t.id, t.token, t.first_seen_at]),
          rows: rows.map(inboxRowValues),
        } satisfies WriterRequest);
      }).then((inserted) => countsPerBatch(batches, owner, inserted));
      inFlight.add(request);
      const forget = () => void inFlight.delete(request);
      request.then(forget, forget);
      return request;
    },
    close() {
      closing ??= (async () => {
        await Promise.allSettled([...inFlight]);
        if (failure) return;
        const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
        worker.ref();
        port.postMessage("close");
        await exited;
      })();
      return closing;
    },
  };
}

function storageError(what: string, cause: Error): RelayError {
  return new RelayError(
    "ERR_STORAGE_UNAVAILABLE",
    `The SQLite inbox writer thread ${what}: ${cause.message}`,
    {
      cause,
    },
  );
}
