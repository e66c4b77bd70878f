import { hash } from "node:crypto";
import { sql, type Insertable, type Kysely, type Selectable } from "kysely";
import type { InboxItem, InboxQueue } from "../core/intake-ports.ts";
import type { Database, Engine, InboxStatus, InboxTable, ValidationTokensTable } from "./schema.ts";
import { sortableId } from "./sortable-id.ts";

/** One notification item as the webhook stores it (never with its `clientState`). */
export interface NewInboxItem {
  /** Graph redelivers; items with a key already stored are skipped. */
  dedupeKey: string;
  orgId: string | null;
  subscriptionId: string;
  kind: "change" | "lifecycle";
  item: Record<string, unknown>;
  validationTokens: string[];
}

/** A stored row, for operators and tests. */
export interface InboxEntry extends InboxItem {
  dedupeKey: string;
  status: InboxStatus;
  nextAttemptAt: number;
  lockedBy: string | null;
  lockedUntil: number | null;
  processedAt: number | null;
  lastError: string | null;
}

/** SQLite allows 32,766 bound values per statement; 14 columns x 500 rows stays far below it. */
const INSERT_CHUNK = 500;
/** Content of finished items is dropped; the row stays for counting and dedupe (then goes with purgeFinishedBefore). */
const FINISHED_PAYLOAD = "{}";

export interface InboxBatch {
  items: readonly NewInboxItem[];
  now: number;
}

export interface EnqueueCounts {
  stored: number;
  duplicates: number;
}

export type InboxInsertRow = Insertable<InboxTable> & { dedupe_key: string };

/** Token -> id for the tokens seen lately: Graph repeats one token on every batch for about an hour. */
const recentTokenIds = new Map<string, string>();

function validationTokenId(token: string): string {
  let id = recentTokenIds.get(token);
  if (id === undefined) {
    if (recentTokenIds.size >= 64) recentTokenIds.clear();
    id = hash("sha256", token, "hex");
    recentTokenIds.set(token, id);
  }
  return id;
}

/**
 * The rows for several callers' batches, the first copy of each dedupe key only, and which batch each key belongs
 * to, plus the validation tokens they reference (stored once each in `validation_tokens`, migration 0008). Shared
 * by `enqueueBatches` and the SQLite writer thread (sqlite-inbox-writer-thread.ts).
 */
export function inboxRowsOf(batches: readonly InboxBatch[]): {
  rows: InboxInsertRow[];
  owner: Map<string, number>;
  tokens: ValidationTokensTable[];
} {
  const owner = new Map<string, number>();
  const rows: InboxInsertRow[] = [];
  const tokens = new Map<string, ValidationTokensTable>();
  batches.forEach(({ items, now }, index) => {
    for (const item of items) {
      if (owner.has(item.dedupeKey)) continue;
      owner.set(item.dedupeKey, index);
      const validationTokenIds = item.validationTokens.map((token) => {
        const id = validationTokenId(token);
        if (!tokens.has(id)) tokens.set(id, { id, token, first_seen_at: now });
        return id;
      });
      rows.push({
        id: sortableId(now),
        dedupe_key: item.dedupeKey,
        org_id: item.orgId,
        subscription_id: item.subscriptionId,
        kind: item.kind,
        payload_json: JSON.stringify(
          validationTokenIds.length > 0 ? { item: item.item, validationTokenIds } : { item: item.item },
        ),
        received_at: now,
        status: "pending" as const,
        attempts: 0,
        next_attempt_at: now,
        locked_by: null,
        locked_until: null,
        processed_at: null,
        last_error: null,
      });
    }
  });
  return { rows, owner, tokens: [...tokens.values()] };
}

/** Per batch, in order: the keys actually inserted count as stored, everything else as duplicates. */
export function countsPerBatch(
  batches: readonly InboxBatch[],
  owner: ReadonlyMap<string, number>,
  insertedKeys: readonly string[],
): EnqueueCounts[] {
  const stored = batches.map(() => 0);
  for (const key of insertedKeys) stored[owner.get(key)!]! += 1;
  return batches.map(({ items }, index) => ({
    stored: stored[index]!,
    duplicates: items.length - stored[index]!,
  }));
}

/**
 * `inbox`: what the webhook acknowledged, durably, before the worker looks at it. A batch is stored in one
 * transaction (all or nothing, so a 202 covers every item); claims are leased, so a dead worker's items come back
 * when its lease runs out. `attempts` counts claims, the current one included.
 */
export class InboxStore implements InboxQueue {
  readonly #db: Kysely<Database>;
  readonly #engine: Engine;

  constructor(db: Kysely<Database>, engine: Engine) {
    this.#db = db;
    this.#engine = engine;
  }

  /** Stores every item of one batch in one transaction; duplicates (same dedupe key) are skipped. */
  async enqueue(items: NewInboxItem[], now: number): Promise<{ stored: number; duplicates: number }> {
    if (items.length === 0) return { stored: 0, duplicates: 0 };
    const [counts] = await this.enqueueBatches([{ items, now }]);
    return counts!;
  }

  /**
   * Stores several callers' batches in ONE transaction (group commit, src/storage/group-commit-inbox.ts): all or
   * nothing, with `ON CONFLICT (dedupe_key) DO NOTHING`. Counts come back per batch, in order; a key repeated in a
   * later batch (or already stored) counts as a duplicate of that later batch, so the earliest copy wins.
   */
  async enqueueBatches(batches: readonly InboxBatch[]): Promise<EnqueueCounts[]> {
    const { rows, owner, tokens } = inboxRowsOf(batches);
    if (rows.length === 0) return countsPerBatch(batches, owner, []);
    const insertedKeys = await this.#db.transaction().execute(async (trx) => {
      if (tokens.length > 0)
        await trx
          .insertInto("validation_tokens")
          .values(tokens)
          .onConflict((oc) => oc.column("id").doNothing())
          .execute();
      const keys: string[] = [];
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        const result = await trx
          .insertInto("inbox")
          .values(rows.slice(i, i + INSERT_CHUNK))
          .onConflict((oc) => oc.column("dedupe_key").doNothing())
          .returning("dedupe_key")
          .execute();
        for (const row of result) keys.push(row.dedupe_key);
      }
      return keys;
    });
    return countsPerBatch(batches, owner, insertedKeys);
  }

  async claim(owner: string, now: number, leaseMs: number, limit: number): Promise<InboxItem[]> {
    // SKIP LOCKED lets several PostgreSQL instances claim disjoint items; SQLite has a single writer anyway.
    const lockClause = this.#engine === "postgres" ? sql`for update skip locked` : sql``;
    const result = await sql<InboxRow>`
      update inbox set locked_by = ${owner}, locked_until = ${now + leaseMs}, attempts = attempts + 1
      where id in (
        select id from inbox
        where status = 'pending' and next_attempt_at <= ${now}
          and (locked_until is null or locked_until <= ${now})
        order by received_at, id
        limit ${limit}
        ${lockClause}
      )
      returning id, org_id, subscription_id, kind, payload_json, received_at, attempts`.execute(this.#db);
    return (await this.#withPayloads(result.rows))
      .map(([row, payload]) => toItem(row, payload))
      .sort((a, b) => a.receivedAt - b.receivedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Finishes an item `owner` still holds; a lost lease (another worker took it over) changes nothing. */
  async complete(
    id: string,
    owner: string,
    status: "processed" | "rejected",
    reason: string | null,
    at: number,
  ): Promise<void> {
    await this.#db
      .updateTable("inbox")
      .set({
        status,
        processed_at: at,
        last_error: reason === null ? null : reason.slice(0, 500),
        locked_by: null,
        locked_until: null,
        payload_json: FINISHED_PAYLOAD,
      })
      .where("id", "=", id)
      .where("locked_by", "=", owner)
      .where("status", "=", "pending")
      .execute();
  }

  /**
   * Deletes rows finished before `before`, then the validation tokens first seen before it that no pending row
   * references any more. Returns how many of each went.
   */
  async purgeFinishedBefore(before: number): Promise<{ items: number; validationTokens: number }> {
    const items = await this.#db
      .deleteFrom("inbox")
      .where("status", "!=", "pending")
      .where("processed_at", "<", before)
      .executeTakeFirst();
    // Pending rows are few (a backlog at most); their payloads name the token ids they reference.
    const tokens = await this.#db
      .deleteFrom("validation_tokens")
      .where("first_seen_at", "<", before)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("inbox")
              .select("inbox.id")
              .where("inbox.status", "=", "pending")
              .where(sql<boolean>`inbox.payload_json like '%' || validation_tokens.id || '%'`),
          ),
        ),
      )
      .executeTakeFirst();
    return { items: Number(items.numDeletedRows), validationTokens: Number(tokens.numDeletedRows) };
  }

  async retry(id: string, owner: string, error: string, retryAt: number): Promise<void> {
    await this.#db
      .updateTable("inbox")
      .set({ next_attempt_at: retryAt, last_error: error.slice(0, 500), locked_by: null, locked_until: null })
      .where("id", "=", id)
      .where("locked_by", "=", owner)
      .where("status", "=", "pending")
      .execute();
  }

  async release(ids: readonly string[], owner: string): Promise<void> {
    if (ids.length === 0) return;
    await this.#db
      .updateTable("inbox")
      .set((eb) => ({ locked_by: null, locked_until: null, attempts: eb("attempts", "-", 1) }))
      .where("id", "in", [...ids])
      .where("locked_by", "=", owner)
      .where("status", "=", "pending")
      .execute();
  }

  /** Every pending item `owner` still holds, handed back (its last act before it stops). Returns how many. */
  async releaseAllOf(owner: string): Promise<number> {
    const result = await this.#db
      .updateTable("inbox")
      .set({ locked_by: null, locked_until: null })
      .where("locked_by", "=", owner)
      .where("status", "=", "pending")
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Stored items, oldest first, for operators and tests. */
  async list(
    filter: {
      status?: InboxStatus;
      kind?: "change" | "lifecycle";
      subscriptionId?: string;
      limit?: number;
    } = {},
  ): Promise<InboxEntry[]> {
    let query = this.#db.selectFrom("inbox").selectAll();
    if (filter.status) query = query.where("status", "=", filter.status);
    if (filter.kind) query = query.where("kind", "=", filter.kind);
    if (filter.subscriptionId) query = query.where("subscription_id", "=", filter.subscriptionId);
    const rows = await query
      .orderBy("received_at")
      .orderBy("id")
      .limit(filter.limit ?? 1000)
      .execute();
    return (await this.#withPayloads(rows)).map(([row, payload]) => toEntry(row, payload));
  }

  /** Each row with its payload read, the validation tokens it references looked up (one query for all rows). */
  async #withPayloads<Row extends InboxRow>(rows: Row[]): Promise<[Row, Payload][]> {
    const stored = rows.map((row) => parseStoredPayload(row.payload_json));
    const ids = [...new Set(stored.flatMap((payload) => payload.validationTokenIds))];
    const tokens = new Map<string, string>();
    if (ids.length > 0) {
      const found = await this.#db
        .selectFrom("validation_tokens")
        .select(["id", "token"])
        .where("id", "in", ids)
        .execute();
      for (const { id, token } of found) tokens.set(id, token);
    }
    return rows.map((row, index) => {
      const { item, validationTokens, validationTokenIds } = stored[index]!;
      // A token missing here (never expected) leaves the item with fewer tokens, which the worker rejects.
      const referenced = validationTokenIds.flatMap((id) => tokens.get(id) ?? []);
      return [row, { item, validationTokens: [...validationTokens, ...referenced] }];
    });
  }

  /** How many items are in each status. */
  async counts(): Promise<Record<InboxStatus, number>> {
    const rows = await this.#db
      .selectFrom("inbox")
      .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
      .groupBy("status")
      .execute();
    const counts: Record<InboxStatus, number> = { pending: 0, processed: 0, rejected: 0 };
    for (const row of rows) counts[row.status] = Number(row.n);
    return counts;
  }
}

type InboxRow = Pick<
  Selectable<InboxTable>,
  "id" | "org_id" | "subscription_id" | "kind" | "payload_json" | "received_at" | "attempts"
>;

interface Payload {
  item: Record<string, unknown>;
  validationTokens: string[];
}

function toItem(row: InboxRow, payload: Payload): InboxItem {
  return {
    id: row.id,
    orgId: row.org_id,
    subscriptionId: row.subscription_id,
    kind: row.kind,
    item: payload.item,
    validationTokens: payload.validationTokens,
    receivedAt: Number(row.received_at),
    attempts: Number(row.attempts),
  };
}

function toEntry(row: Selectable<InboxTable>, payload: Payload): InboxEntry {
  return {
    ...toItem(row, payload),
    dedupeKey: row.dedupe_key,
    status: row.status,
    nextAttemptAt: Number(row.next_attempt_at),
    lockedBy: row.locked_by,
    lockedUntil: row.locked_until === null ? null : Number(row.locked_until),
    processedAt: row.processed_at === null ? null : Number(row.processed_at),
    lastError: row.last_error,
  };
}

/** Rows written before migration 0008 carry their tokens inline; later ones reference them by id. */
function parseStoredPayload(json: string): Payload & { validationTokenIds: string[] } {
  const parsed = JSON.parse(json) as {
    item?: Record<string, unknown>;
    validationTokens?: string[];
    validationTokenIds?: string[];
  };
  return {
    item: parsed.item ?? {},
    validationTokens: parsed.validationTokens ?? [],
    validationTokenIds: parsed.validationTokenIds ?? [],
  };
}
