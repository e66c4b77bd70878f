import type { Kysely } from "kysely";
import type { Database } from "./schema.ts";

export interface FlashMessage {
  kind: "success" | "error" | "info";
  text: string;
}

export interface StoredSession {
  idHash: string;
  accountId: string;
  createdAt: number;
  lastSeenAt: number;
}

/**
 * The `web_sessions` table, keyed by the SHA-256 of the session id (web/web-sessions.ts hashes it): a copy of
 * the database does not yield usable cookies. Expiry is decided by core/session-policy.ts.
 */
export class SessionStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async create(session: StoredSession): Promise<void> {
    await this.#db
      .insertInto("web_sessions")
      .values({
        id_hash: session.idHash,
        account_id: session.accountId,
        created_at: session.createdAt,
        last_seen_at: session.lastSeenAt,
        flash_json: null,
      })
      .execute();
  }

  async get(idHash: string): Promise<StoredSession | undefined> {
    const row = await this.#db
      .selectFrom("web_sessions")
      .select(["id_hash", "account_id", "created_at", "last_seen_at"])
      .where("id_hash", "=", idHash)
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : {
          idHash: row.id_hash,
          accountId: row.account_id,
          createdAt: row.created_at,
          lastSeenAt: row.last_seen_at,
        };
  }

  async touch(idHash: string, now: number): Promise<void> {
    await this.#db
      .updateTable("web_sessions")
      .set({ last_seen_at: now })
      .where("id_hash", "=", idHash)
      .execute();
  }

  async delete(idHash: string): Promise<void> {
    await this.#db.deleteFrom("web_sessions").where("id_hash", "=", idHash).execute();
  }

  /** Signs the account out everywhere (disabled, password reset), except `keepIdHash` when given. */
  async deleteForAccount(accountId: string, keepIdHash?: string): Promise<number> {
    let query = this.#db.deleteFrom("web_sessions").where("account_id", "=", accountId);
    if (keepIdHash !== undefined) query = query.where("id_hash", "!=", keepIdHash);
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Removes sessions created before `createdBefore` or idle since before `idleBefore`. */
  async purgeExpired(createdBefore: number, idleBefore: number): Promise<number> {
    const result = await this.#db
      .deleteFrom("web_sessions")
      .where((eb) => eb.or([eb("created_at", "<", createdBefore), eb("last_seen_at", "<", idleBefore)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async addFlash(idHash: string, message: FlashMessage): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom("web_sessions")
        .select("flash_json")
        .where("id_hash", "=", idHash)
        .executeTakeFirst();
      if (row === undefined) return;
      const messages = parseFlash(row.flash_json);
      // A handful is plenty; a loop of failed actions must not grow the row without bound.
      const next = [...messages, message].slice(-5);
      await trx
        .updateTable("web_sessions")
        .set({ flash_json: JSON.stringify(next) })
        .where("id_hash", "=", idHash)
        .execute();
    });
  }

  /** Returns the pending messages and clears them. */
  async takeFlash(idHash: string): Promise<FlashMessage[]> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom("web_sessions")
        .select("flash_json")
        .where("id_hash", "=", idHash)
        .executeTakeFirst();
      if (row === undefined || row.flash_json === null) return [];
      await trx.updateTable("web_sessions").set({ flash_json: null }).where("id_hash", "=", idHash).execute();
      return parseFlash(row.flash_json);
    });
  }
}

function parseFlash(json: string | null): FlashMessage[] {
  if (json === null) return [];
  try {
    const parsed = JSON.parse(json) as unknown;
    return Array.isArray(parsed) ? (parsed as FlashMessage[]) : [];
  } catch {
    return [];
  }
}
