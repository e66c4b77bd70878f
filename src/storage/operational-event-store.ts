import type { Kysely } from "kysely";
import type { Clock } from "../core/clock.ts";
import { RelayError } from "../core/errors.ts";
import { sortableId } from "./sortable-id.ts";
import type { Database, EventSeverity } from "./schema.ts";

/** Something about the relay itself (not an emergency): token revoked, subscription lost, secret expiring. */
export interface OperationalEvent {
  id: string;
  orgId: string | null;
  kind: string;
  severity: EventSeverity;
  message: string;
  details: Record<string, unknown> | null;
  createdAt: number;
}

export interface NewOperationalEvent {
  orgId?: string | null;
  kind: string;
  severity: EventSeverity;
  /** Shown to operators; must not contain secrets or message content. */
  message: string;
  details?: Record<string, unknown> | null;
}

export const MAX_LIST_LIMIT = 1000;

export class OperationalEventStore {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  async append(event: NewOperationalEvent): Promise<OperationalEvent> {
    const createdAt = this.#clock.now();
    const stored: OperationalEvent = {
      id: sortableId(createdAt),
      orgId: event.orgId ?? null,
      kind: event.kind,
      severity: event.severity,
      message: event.message,
      details: event.details ?? null,
      createdAt,
    };
    await this.#db
      .insertInto("operational_events")
      .values({
        id: stored.id,
        org_id: stored.orgId,
        kind: stored.kind,
        severity: stored.severity,
        message: stored.message,
        details_json: stored.details === null ? null : JSON.stringify(stored.details),
        created_at: stored.createdAt,
      })
      .execute();
    return stored;
  }

  /** Newest first. */
  async listRecent(options: { orgId?: string; limit: number }): Promise<OperationalEvent[]> {
    const { orgId, limit } = options;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new RelayError("ERR_VALIDATION", `limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
    }
    let query = this.#db.selectFrom("operational_events").selectAll();
    if (orgId !== undefined) query = query.where("org_id", "=", orgId);
    const rows = await query.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
    return rows.map((row) => ({
      id: row.id,
      orgId: row.org_id,
      kind: row.kind,
      severity: row.severity,
      message: row.message,
      details: row.details_json === null ? null : (JSON.parse(row.details_json) as Record<string, unknown>),
      createdAt: row.created_at,
    }));
  }
}
