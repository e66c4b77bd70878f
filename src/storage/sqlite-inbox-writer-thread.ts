// The worker thread behind sqlite-inbox-writer.ts: its own connection to the relay's SQLite file, used only for
// the webhook's inbox inserts, so their COMMIT (WAL write, fsync, checkpoints) never blocks the event loop that
// answers Graph. One prepared single-row INSERT run per item inside one transaction: for a group of a few dozen
// 3 KB items, building Kysely's multi-row statement cost more than the inserts themselves. Requests that queued up
// while a transaction was committing are written together in the next one (group commit, continued here), and
// answered together in one message.
import { receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import {
  DEDUPE_KEY_INDEX,
  INBOX_INSERT_COLUMNS,
  type WriterReplies,
  type WriterReply,
  type WriterRequest,
} from "./sqlite-inbox-writer-protocol.ts";
import { openSqliteConnection } from "./sqlite-database.ts";

const { file, port } = workerData as { file: string; port: MessagePort };
const sqlite = openSqliteConnection(file);
const insert = sqlite.prepare(
  `insert into inbox (${INBOX_INSERT_COLUMNS.join(", ")})
   values (${INBOX_INSERT_COLUMNS.map(() => "?").join(", ")})
   on conflict (dedupe_key) do nothing`,
);
const insertToken = sqlite.prepare(
  "insert into validation_tokens (id, token, first_seen_at) values (?, ?, ?) on conflict (id) do nothing",
);

/** All or nothing: better-sqlite3 rolls the transaction back when the function throws. */
const insertAll = sqlite.transaction((requests: WriterRequest[]): WriterReply[] => {
  for (const request of requests) for (const token of request.tokens) insertToken.run(...token);
  return requests.map(({ id, rows }) => {
    const inserted: string[] = [];
    for (const values of rows) {
      if (insert.run(...values).changes === 1) inserted.push(values[DEDUPE_KEY_INDEX] as string);
    }
    return { id, inserted };
  });
});

function failure(id: number, error: unknown): WriterReply {
  const e = error as { message?: unknown; code?: unknown };
  return {
    id,
    error: {
      message: typeof e?.message === "string" ? e.message : String(error),
      ...(typeof e?.code === "string" ? { code: e.code } : {}),
    },
  };
}

/** Each request in its own transaction: after a merged one failed, only the request at fault fails. */
function storeEach(requests: WriterRequest[]): WriterReply[] {
  return requests.map((request) => {
    try {
      return insertAll([request])[0]!;
    } catch (error) {
      return failure(request.id, error);
    }
  });
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
    let replies: WriterReply[];
    try {
      replies = insertAll(requests);
    } catch {
      replies = storeEach(requests);
    }
    port.postMessage({ replies } satisfies WriterReplies);
  }
  if (close) {
    sqlite.close();
    port.close();
  }
});
port.postMessage("ready");
