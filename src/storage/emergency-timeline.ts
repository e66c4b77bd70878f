import type { Kysely } from "kysely";
import type { NewTimelineEvent, TimelineEvent, TimelineKind } from "../core/emergency-record.ts";
import { sortableId } from "./sortable-id.ts";
import type { Database } from "./schema.ts";

/**
 * Appends timeline events inside the caller's transaction: an emergency's record changes together with the state
 * it describes (raised with its deliveries, acknowledged with the cancelled escalations).
 */
export async function insertTimeline(
  trx: Kysely<Database>,
  events: readonly NewTimelineEvent[],
): Promise<void> {
  if (events.length === 0) return;
  await trx
    .insertInto("emergency_events")
    .values(
      events.map((e) => ({
        id: sortableId(e.at),
        emergency_id: e.emergencyId,
        at: e.at,
        kind: e.kind,
        message: e.message,
        details_json: e.details === null ? null : JSON.stringify(e.details),
      })),
    )
    .execute();
}

/** An emergency's timeline, oldest first. */
export async function readTimeline(db: Kysely<Database>, emergencyId: string): Promise<TimelineEvent[]> {
  const rows = await db
    .selectFrom("emergency_events")
    .selectAll()
    .where("emergency_id", "=", emergencyId)
    .orderBy("at")
    .orderBy("id")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    emergencyId: r.emergency_id,
    at: Number(r.at),
    kind: r.kind as TimelineKind,
    message: r.message,
    details: r.details_json === null ? null : (JSON.parse(r.details_json) as Record<string, unknown>),
  }));
}
