// The worker thread behind sqlite-inbox-writer.ts: its own connection to the relay's SQLite file, used only for
// the webhook's inbox inserts, so their COMMIT (WAL write, fsync, checkpoints) never blocks the event loop that
// answers Graph.
import { parentPort, workerData } from "node:worker_threads";
import type { NewInboxItem } from "./inbox-store.ts";
import { InboxStore } from "./inbox-store.ts";
import { openSqliteDatabase } from "./sqlite-database.ts";

export interface WriterRequest {
  id: number;
  batches: readonly { items: readonly NewInboxItem[]; now: number }[];
}

export type WriterReply =
  | { id: number; counts: { stored: number; duplicates: number }[] }
  | { id: number; error: { message: string; code?: string } };

const { file } = workerData as { file: string };
const db = openSqliteDatabase(file);
const inbox = new InboxStore(db, "sqlite");
const port = parentPort!;

port.on("message", (request: WriterRequest | "close") => {
  if (request === "close") {
    void db.destroy().then(() => port.close());
    return;
  }
  inbox.enqueueBatches(request.batches).then(
    (counts) => port.postMessage({ id: request.id, counts } satisfies WriterReply),
    (error: unknown) => {
      const e = error as { message?: unknown; code?: unknown };
      port.postMessage({
        id: request.id,
        error: {
          message: typeof e?.message === "string" ? e.message : String(error),
          ...(typeof e?.code === "string" ? { code: e.code } : {}),
        },
      } satisfies WriterReply);
    },
  );
});
port.postMessage("ready");
