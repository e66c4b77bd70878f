import type { Kysely } from "kysely";
import type { Clock } from "../core/clock.ts";
import { sortableId } from "./sortable-id.ts";
import type { Database } from "./schema.ts";

export interface AuditEntry {
  id: string;
  at: number;
  actorAccountId: string | null;
  /** Username, or `admin API token`. */
  actor: string;
  /** Dotted verb: `account.create`, `org.update`, `session.login` ... */
  action: string;
  targetType: string | null;
  targetId: string | null;
  /** One line for people: what changed, never a secret value. */
  summary: string;
  details: Record<string, unknown> | null;
  clientAddress: string | null;
}

export type NewAuditEntry = Omit<
  AuditEntry,
  "id" | "at" | "actorAccountId" | "targetType" | "targetId" | "details" | "clientAddress"
> &
  Partial<Pick<AuditEntry, "actorAccountId" | "targetType" | "targetId" | "details" | "clientAddress">>;

export const MAX_AUDIT_PAGE = 500;

/** Who changed what, when: append-only; the web app has no way to edit or delete entries. */
export class AuditLogStore {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  async append(entry: NewAuditEntry): Promise<AuditEntry> {
    const at = this.#clock.now();
    const stored: AuditEntry = {
      id: sortableId(at),
      at,
      actorAccountId: entry.actorAccountId ?? null,
      actor: entry.actor,
      action: entry.action,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId ?? null,
      summary: entry.summary,
      details: entry.details ?? null,
      clientAddress: entry.clientAddress ?? null,
    };
    await this.#db
      .insertInto("web_audit_log")
      .values({
        id: stored.id,
        at: stored.at,
        actor_account_id: stored.actorAccountId,
        actor: stored.actor,
        action: stored.action,
        target_type: stored.targetType,
        target_id: stored.targetId,
        summary: stored.summary,
        details_json: stored.details === null ? null : JSON.stringify(stored.details),
        client_address: stored.clientAddress,
      })
      .execute();
    return stored;
  }

  /** Newest first; `before` (an entry id) pages back. */
  async list(options: { limit: number; before?: string; action?: string }): Promise<AuditEntry[]> {
    const limit = Math.min(Math.max(1, Math.floor(options.limit)), MAX_AUDIT_PAGE);
    let query = this.#db.selectFrom("web_audit_log").selectAll();
    if (options.before !== undefined) query = query.where("id", "<", options.before);
    if (options.action !== undefined) query = query.where("action", "like", `${options.action}%`);
    const rows = await query.orderBy("id", "desc").limit(limit).execute();
    return rows.map((row) => ({
      id: row.id,
      at: row.at,
      actorAccountId: row.actor_account_id,
      actor: row.actor,
      action: row.action,
      targetType: row.target_type,
      targetId: row.target_id,
      summary: row.summary,
      details: row.details_json === null ? null : (JSON.parse(row.details_json) as Record<string, unknown>),
      clientAddress: row.client_address,
    }));
  }
}
