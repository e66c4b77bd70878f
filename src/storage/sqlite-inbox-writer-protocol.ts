// What sqlite-inbox-writer.ts (the event loop) and sqlite-inbox-writer-thread.ts exchange. Rows travel as flat
// value arrays, built and JSON-encoded on the event loop: the thread is the intake's busiest stage, so it only
// runs the inserts and the commit.
import type { InboxInsertRow } from "./inbox-store.ts";

export const INBOX_INSERT_COLUMNS = [
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

/** Position of the dedupe key in a row's values: the thread reports inserted rows by it. */
export const DEDUPE_KEY_INDEX = INBOX_INSERT_COLUMNS.indexOf("dedupe_key");

export function inboxRowValues(row: InboxInsertRow): unknown[] {
  return INBOX_INSERT_COLUMNS.map((column) => row[column] ?? null);
}

export interface WriterRequest {
  id: number;
  /** `validation_tokens` rows: id, token, first_seen_at. */
  tokens: [string, string, number][];
  /** Inbox rows, values in INBOX_INSERT_COLUMNS order. */
  rows: unknown[][];
}

/** Per request: the dedupe keys actually inserted (the others were already stored), or why it failed. */
export type WriterReply =
  { id: number; inserted: string[] } | { id: number; error: { message: string; code?: string } };

/** One message per transaction, answering every request it covered. */
export interface WriterReplies {
  replies: WriterReply[];
}
