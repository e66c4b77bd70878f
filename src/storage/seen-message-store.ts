import type { Kysely } from "kysely";
import type { MessageSource } from "../core/intake-ports.ts";
import type { SeenClaim, SeenMessageKey, SeenMessageRepository } from "../core/message-ports.ts";
import type { Database } from "./schema.ts";

/** A claim not confirmed within this long is presumed abandoned (its worker crashed) and may be taken over. */
export const DEFAULT_CLAIM_STALE_MS = 60_000;

/**
 * `seen_messages`: which (org, chat, message) the relay has handed to detection, whether it came by notification or by
 * polling. Only ids and times are kept, never content. Claiming is one atomic statement on both engines
 * (`INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`), so of concurrent claimers exactly one gets `new`.
 */
export class SeenMessageStore implements SeenMessageRepository {
  readonly #db: Kysely<Database>;
  readonly #staleMs: number;

  constructor(db: Kysely<Database>, options: { claimStaleMs?: number } = {}) {
    this.#db = db;
    this.#staleMs = options.claimStaleMs ?? DEFAULT_CLAIM_STALE_MS;
  }

  async claim(
    key: SeenMessageKey & { source: MessageSource; messageCreatedAt: number | null },
    now: number,
  ): Promise<SeenClaim> {
    const taken = await this.#db
      .insertInto("seen_messages")
      .values({
        org_id: key.orgId,
        chat_id: key.chatId,
        message_id: key.messageId,
        source: key.source,
        first_seen_at: now,
        message_created_at: key.messageCreatedAt,
        handed_off_at: null,
      })
      .onConflict((oc) =>
        oc
          .columns(["org_id", "chat_id", "message_id"])
          .doUpdateSet({ first_seen_at: now })
          // Only an unconfirmed claim that has gone stale is taken over.
          .where((eb) =>
            eb.and([
              eb("seen_messages.handed_off_at", "is", null),
              eb("seen_messages.first_seen_at", "<=", now - this.#staleMs),
            ]),
          ),
      )
      .returning("org_id")
      .executeTakeFirst();
    if (taken !== undefined) return { status: "new" };
    const row = await this.#db
      .selectFrom("seen_messages")
      .select(["first_seen_at", "handed_off_at"])
      .where("org_id", "=", key.orgId)
      .where("chat_id", "=", key.chatId)
      .where("message_id", "=", key.messageId)
      .executeTakeFirst();
    if (row !== undefined && row.handed_off_at !== null) return { status: "seen" };
    // Released between the two statements: it is free again, ask again shortly.
    if (row === undefined) return { status: "in_progress", retryAt: now + 1_000 };
    return { status: "in_progress", retryAt: Number(row.first_seen_at) + this.#staleMs };
  }

  async confirm(key: SeenMessageKey, now: number): Promise<void> {
    await this.#db
      .updateTable("seen_messages")
      .set({ handed_off_at: now })
      .where("org_id", "=", key.orgId)
      .where("chat_id", "=", key.chatId)
      .where("message_id", "=", key.messageId)
      .execute();
  }

  /** Gives an unconfirmed claim up (the hand-off failed), so the next attempt finds the message new again. */
  async release(key: SeenMessageKey): Promise<void> {
    await this.#db
      .deleteFrom("seen_messages")
      .where("org_id", "=", key.orgId)
      .where("chat_id", "=", key.chatId)
      .where("message_id", "=", key.messageId)
      .where("handed_off_at", "is", null)
      .execute();
  }

  /** How many messages each path delivered first (for tests and metrics). */
  async countBySource(orgId?: string): Promise<Record<MessageSource, number>> {
    let query = this.#db
      .selectFrom("seen_messages")
      .select((eb) => ["source", eb.fn.countAll<string | number>().as("count")])
      .where("handed_off_at", "is not", null)
      .groupBy("source");
    if (orgId !== undefined) query = query.where("org_id", "=", orgId);
    const counts: Record<MessageSource, number> = { notification: 0, polling: 0 };
    for (const row of await query.execute()) counts[row.source] = Number(row.count);
    return counts;
  }

  /**
   * Forgets handed-over messages first seen before `before`. Keep well beyond Graph's 4-hour retry window and the
   * polling look-back (24 h on a first run); a month is plenty. Returns how many rows went.
   */
  async purgeSeenBefore(before: number): Promise<number> {
    const result = await this.#db
      .deleteFrom("seen_messages")
      .where("first_seen_at", "<", before)
      .where("handed_off_at", "is not", null)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
