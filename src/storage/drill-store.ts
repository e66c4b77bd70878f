import type { Kysely, Selectable } from "kysely";
import type { DrillRecorder } from "../core/detection-ports.ts";
import type { Drill, DrillCapture, NewDrillCapture } from "../core/drill.ts";
import type { DetectionResult } from "../core/emergency.ts";
import { RelayError } from "../core/errors.ts";
import { sortableId } from "./sortable-id.ts";
import type { Database, DrillCapturesTable, DrillsTable } from "./schema.ts";

export interface DrillSummary extends Drill {
  captureCount: number;
}

/**
 * `drills` and `drill_captures`. A drill runs from `started_at` until `ended_at` (ended early) or `ends_at`;
 * messages are captured only meanwhile. `purgeCapturesEndedBefore` deletes captures after the retention time;
 * the admin API calls it whenever drills are listed, read or started, and the daily sweep job calls it too.
 */
export class DrillStore implements DrillRecorder {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Throws ERR_CONFLICT when the org has a drill running at `now`. */
  async start(orgId: string, durationMs: number, now: number): Promise<Drill> {
    return this.#db.transaction().execute(async (trx) => {
      const running = await runningQuery(trx, orgId, now).executeTakeFirst();
      if (running !== undefined)
        throw new RelayError(
          "ERR_CONFLICT",
          `Drill ${running.id} is already running for this org; end it first (POST …/drills/${running.id}/end)`,
        );
      const row: Selectable<DrillsTable> = {
        id: `drill_${sortableId(now)}`,
        org_id: orgId,
        started_at: now,
        ends_at: now + durationMs,
        ended_at: null,
        captures_purged_at: null,
      };
      await trx.insertInto("drills").values(row).execute();
      return toDrill(row);
    });
  }

  async runningDrill(orgId: string, now: number): Promise<Drill | undefined> {
    const row = await runningQuery(this.#db, orgId, now).executeTakeFirst();
    return row === undefined ? undefined : toDrill(row);
  }

  /** Newest first, with how many messages each captured. */
  async list(orgId: string): Promise<DrillSummary[]> {
    const rows = await this.#db
      .selectFrom("drills")
      .selectAll("drills")
      .select((eb) =>
        eb
          .selectFrom("drill_captures")
          .select((e) => e.fn.countAll<string | number>().as("n"))
          .whereRef("drill_captures.drill_id", "=", "drills.id")
          .as("capture_count"),
      )
      .where("drills.org_id", "=", orgId)
      .orderBy("drills.started_at", "desc")
      .orderBy("drills.id", "desc")
      .execute();
    return rows.map((row) => ({ ...toDrill(row), captureCount: Number(row.capture_count ?? 0) }));
  }

  async get(orgId: string, drillId: string): Promise<Drill | undefined> {
    const row = await this.#db
      .selectFrom("drills")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("id", "=", drillId)
      .executeTakeFirst();
    return row === undefined ? undefined : toDrill(row);
  }

  /** Stops capturing at `now` (no-op for a drill already over). Undefined for an unknown drill. */
  async end(orgId: string, drillId: string, now: number): Promise<Drill | undefined> {
    await this.#db
      .updateTable("drills")
      .set({ ended_at: now })
      .where("org_id", "=", orgId)
      .where("id", "=", drillId)
      .where("ended_at", "is", null)
      .where("ends_at", ">", now)
      .execute();
    return this.get(orgId, drillId);
  }

  async addCapture(capture: NewDrillCapture): Promise<void> {
    const { result } = capture;
    await this.#db
      .insertInto("drill_captures")
      .values({
        id: `cap_${sortableId(capture.capturedAt)}`,
        drill_id: capture.drillId,
        org_id: capture.orgId,
        chat_id: capture.chatId,
        message_id: capture.messageId,
        captured_at: capture.capturedAt,
        detected: result.emergency ? 1 : 0,
        rule_id: result.emergency ? result.ruleId : null,
        reason: result.emergency ? null : result.reason,
        message_json: JSON.stringify(capture.message),
        result_json: JSON.stringify(result),
      })
      .onConflict((oc) => oc.columns(["drill_id", "chat_id", "message_id"]).doNothing())
      .execute();
  }

  /** In the order they arrived. */
  async listCaptures(drillId: string): Promise<DrillCapture[]> {
    const rows = await this.#db
      .selectFrom("drill_captures")
      .selectAll()
      .where("drill_id", "=", drillId)
      .orderBy("captured_at")
      .orderBy("id")
      .execute();
    return rows.map(toCapture);
  }

  async getCapture(drillId: string, captureId: string): Promise<DrillCapture | undefined> {
    const row = await this.#db
      .selectFrom("drill_captures")
      .selectAll()
      .where("drill_id", "=", drillId)
      .where("id", "=", captureId)
      .executeTakeFirst();
    return row === undefined ? undefined : toCapture(row);
  }

  /**
   * Deletes the captures of every drill that stopped capturing before `cutoff` and marks those drills purged
   * (the drills themselves stay, as a record that they ran). Returns how many captures went.
   */
  async purgeCapturesEndedBefore(cutoff: number, now: number): Promise<number> {
    return this.#db.transaction().execute(async (trx) => {
      const over = (db: typeof trx) =>
        db
          .selectFrom("drills")
          .select("id")
          .where("captures_purged_at", "is", null)
          .where((eb) =>
            eb.or([
              eb("ends_at", "<", cutoff),
              eb.and([eb("ended_at", "is not", null), eb("ended_at", "<", cutoff)]),
            ]),
          );
      const deleted = await trx
        .deleteFrom("drill_captures")
        .where("drill_id", "in", over(trx))
        .executeTakeFirst();
      await trx.updateTable("drills").set({ captures_purged_at: now }).where("id", "in", over(trx)).execute();
      return Number(deleted.numDeletedRows);
    });
  }
}

function runningQuery(db: Kysely<Database>, orgId: string, now: number) {
  return db
    .selectFrom("drills")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("ends_at", ">", now)
    .where("started_at", "<=", now)
    .where((eb) => eb.or([eb("ended_at", "is", null), eb("ended_at", ">", now)]))
    .orderBy("started_at", "desc")
    .limit(1);
}

function toDrill(row: Selectable<DrillsTable>): Drill {
  return {
    id: row.id,
    orgId: row.org_id,
    startedAt: Number(row.started_at),
    endsAt: Number(row.ends_at),
    endedAt: row.ended_at === null ? null : Number(row.ended_at),
    capturesPurgedAt: row.captures_purged_at === null ? null : Number(row.captures_purged_at),
  };
}

function toCapture(row: Selectable<DrillCapturesTable>): DrillCapture {
  return {
    id: row.id,
    drillId: row.drill_id,
    orgId: row.org_id,
    chatId: row.chat_id,
    messageId: row.message_id,
    capturedAt: Number(row.captured_at),
    message: JSON.parse(row.message_json) as Record<string, unknown>,
    result: JSON.parse(row.result_json) as DetectionResult,
  };
}
