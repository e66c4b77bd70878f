import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { Database, Engine } from "./schema.ts";

export interface Job {
  id: string;
  kind: string;
  orgId: string | null;
  dedupeKey: string | null;
  runAt: number;
  attempts: number;
}

export interface ScheduleJob {
  kind: string;
  orgId?: string | null;
  /** One pending job per key: scheduling again moves it instead of adding another. */
  dedupeKey: string;
  runAt: number;
}

function newJobRow(job: ScheduleJob, now: number) {
  return {
    id: randomUUID(),
    kind: job.kind,
    org_id: job.orgId ?? null,
    dedupe_key: job.dedupeKey,
    run_at: job.runAt,
    max_attempts: 0,
    created_at: now,
  };
}

/** The `jobs` table: durable timers that survive restarts and are claimed with leases. */
export class JobStore {
  readonly #db: Kysely<Database>;
  readonly #engine: Engine;

  constructor(db: Kysely<Database>, engine: Engine) {
    this.#db = db;
    this.#engine = engine;
  }

  async schedule(job: ScheduleJob, now: number): Promise<void> {
    await this.#db
      .insertInto("jobs")
      .values(newJobRow(job, now))
      .onConflict((oc) =>
        oc.column("dedupe_key").doUpdateSet({ run_at: job.runAt, attempts: 0, last_error: null }),
      )
      .execute();
  }

  /** Schedules only if no job with this key exists (start-up reconciliation must not postpone a due job). */
  async ensure(job: ScheduleJob, now: number): Promise<void> {
    await this.#db
      .insertInto("jobs")
      .values(newJobRow(job, now))
      .onConflict((oc) => oc.column("dedupe_key").doNothing())
      .execute();
  }

  async unschedule(dedupeKey: string): Promise<void> {
    await this.#db.deleteFrom("jobs").where("dedupe_key", "=", dedupeKey).execute();
  }

  /** Claims up to `limit` due jobs for `owner` until `now + leaseMs`; a dead owner's lease simply runs out. */
  async claimDue(owner: string, now: number, leaseMs: number, limit: number): Promise<Job[]> {
    // SKIP LOCKED lets several PostgreSQL instances claim disjoint jobs; SQLite has a single writer anyway.
    const lockClause = this.#engine === "postgres" ? sql`for update skip locked` : sql``;
    const result = await sql<{
      id: string;
      kind: string;
      org_id: string | null;
      dedupe_key: string | null;
      run_at: number;
      attempts: number;
    }>`
      update jobs set locked_by = ${owner}, locked_until = ${now + leaseMs}
      where id in (
        select id from jobs
        where run_at <= ${now} and (locked_until is null or locked_until <= ${now})
        order by run_at
        limit ${limit}
        ${lockClause}
      )
      returning id, kind, org_id, dedupe_key, run_at, attempts`.execute(this.#db);
    return result.rows
      .map((r) => ({
        id: r.id,
        kind: r.kind,
        orgId: r.org_id,
        dedupeKey: r.dedupe_key,
        runAt: Number(r.run_at),
        attempts: Number(r.attempts),
      }))
      .sort((a, b) => a.runAt - b.runAt);
  }

  /**
   * Finishes a claimed job. If the handler rescheduled it meanwhile (same dedupe key, later `run_at`), the row stays
   * with its new time; otherwise it is deleted.
   */
  async complete(job: Job, owner: string): Promise<void> {
    await this.#db
      .deleteFrom("jobs")
      .where("id", "=", job.id)
      .where("locked_by", "=", owner)
      .where("run_at", "=", job.runAt)
      .execute();
    await this.#db
      .updateTable("jobs")
      .set({ locked_by: null, locked_until: null })
      .where("id", "=", job.id)
      .where("locked_by", "=", owner)
      .execute();
  }

  async fail(job: Job, owner: string, error: string, retryAt: number): Promise<void> {
    await this.#db
      .updateTable("jobs")
      .set({
        locked_by: null,
        locked_until: null,
        last_error: error.slice(0, 500),
        run_at: retryAt,
        attempts: job.attempts + 1,
      })
      .where("id", "=", job.id)
      .where("locked_by", "=", owner)
      .execute();
  }

  /** Extends claims `owner` still holds (a heartbeat while a job runs). */
  async extend(ids: readonly string[], owner: string, lockedUntil: number): Promise<void> {
    if (ids.length === 0) return;
    await this.#db
      .updateTable("jobs")
      .set({ locked_until: lockedUntil })
      .where("id", "in", [...ids])
      .where("locked_by", "=", owner)
      .execute();
  }

  /** Hands claimed jobs back unrun (shutting down): due again at once for any instance. */
  async release(ids: readonly string[], owner: string): Promise<void> {
    if (ids.length === 0) return;
    await this.#db
      .updateTable("jobs")
      .set({ locked_by: null, locked_until: null })
      .where("id", "in", [...ids])
      .where("locked_by", "=", owner)
      .execute();
  }

  /** Every claim `owner` still holds, handed back (its last act before it stops). Returns how many. */
  async releaseAllOf(owner: string): Promise<number> {
    const result = await this.#db
      .updateTable("jobs")
      .set({ locked_by: null, locked_until: null })
      .where("locked_by", "=", owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async nextRunAt(): Promise<number | undefined> {
    const row = await this.#db
      .selectFrom("jobs")
      .select("run_at")
      .orderBy("run_at")
      .limit(1)
      .executeTakeFirst();
    return row?.run_at;
  }

  async list(): Promise<Job[]> {
    const rows = await this.#db.selectFrom("jobs").selectAll().orderBy("run_at").execute();
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      orgId: r.org_id,
      dedupeKey: r.dedupe_key,
      runAt: r.run_at,
      attempts: r.attempts,
    }));
  }
}
