// The worker thread behind sqlite-inbox-writer.ts: its own connection to the relay's SQLite file, used only for
// the webhook's inbox inserts, so their COMMIT (WAL write, fsync, checkpoints) never blocks the event loop that
// answers Graph. One prepared single-row INSERT run per item inside one transaction: for a group of a few dozen
// 3 KB items, building Kysely's multi-row statement cost more than the inserts themselves. Requests that queued up
// while a transaction was committing are written together in the next one (group commit, continued here).
import { receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import {
  countsPerBatch,
  inboxRowsOf,
  type EnqueueCounts,
  type InboxBatch,
  type InboxInsertRow,
} from "./inbox-store.ts";
import type { ValidationTokensTable } from "./schema.ts";
import { openSqliteConnection } from "./sqlite-database.ts";

export interface WriterRequest {
  id: number;
  batches: readonly InboxBatch[];
}

export type WriterReply =
  { id: number; counts: EnqueueCounts[] } | { id: number; error: { message: string; code?: string } };

const COLUMNS = [
  "id",
  "dedupe_key",
  "org_id",
  "subscription_id",
  "kind",
  "payload_json",
  "received_at",
  "status",
  "attempts",
  "next_attempt_at",
] as const satisfies readonly (keyof InboxInsertRow)[];

const { file, port } = workerData as { file: string; port: MessagePort };
const sqlite = openSqliteConnection(file);
const insert = sqlite.prepare(
  `insert into inbox (${COLUMNS.join(", ")}) values (${COLUMNS.map(() => "?").join(", ")})
   on conflict (dedupe_key) do nothing`,
);
const insertToken = sqlite.prepare(
  "insert into validation_tokens (id, token, first_seen_at) values (?, ?, ?) on conflict (id) do nothing",
);
/** All or nothing: better-sqlite3 rolls the transaction back when the function throws. */
const insertAll = sqlite.transaction((rows: InboxInsertRow[], tokens: ValidationTokensTable[]) => {
  for (const { id, token, first_seen_at } of tokens) insertToken.run(id, token, first_seen_at);
  const inserted: string[] = [];
  for (const row of rows) {
    if (insert.run(...COLUMNS.map((column) => row[column] ?? null)).changes === 1)
      inserted.push(row.dedupe_key);
  }
  return inserted;
});

function store(batches: readonly InboxBatch[]): EnqueueCounts[] {
  const { rows, owner, tokens } = inboxRowsOf(batches);
  return countsPerBatch(batches, owner, rows.length === 0 ? [] : insertAll(rows, tokens));
}

function failure(error: unknown): { message: string; code?: string } {
  const e = error as { message?: unknown; code?: unknown };
  return {
    message: typeof e?.message === "string" ? e.message : String(error),
    ...(typeof e?.code === "string" ? { code: e.code } : {}),
  };
}

/** Each request's own transaction: after a merged one failed, only the request at fault fails. */
function storeEach(requests: WriterRequest[]): void {
  for (const request of requests) {
    try {
      port.postMessage({ id: request.id, counts: store(request.batches) } satisfies WriterReply);
    } catch (error) {
      port.postMessage({ id: request.id, error: failure(error) } satisfies WriterReply);
    }
  }
}

port.on("message", (first: WriterRequest | "close") => {
  const requests: WriterRequest[] = [];
  let close = false;
  for (let message: WriterRequest | "close" | undefined = first; message !== undefined;) {
    if (message === "close") close = true;
    else requests.push(message);
    message = receiveMessageOnPort(port)?.message as WriterRequest | "close" | undefined;
  }
  if (requests.length > 0) {
    let counts: EnqueueCounts[] | undefined;
    try {
      counts = store(requests.flatMap((request) => request.batches));
    } catch {
      storeEach(requests);
    }
    if (counts) {
      let offset = 0;
      for (const request of requests) {
        const own = counts.slice(offset, offset + request.batches.length);
        offset += request.batches.length;
        port.postMessage({ id: request.id, counts: own } satisfies WriterReply);
      }
    }
  }
  if (close) {
    sqlite.close();
    port.close();
  }
});
port.postMessage("ready");
