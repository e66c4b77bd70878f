import { randomBytes } from "node:crypto";
import { sql, type Kysely, type Selectable } from "kysely";
import type { AlertMessage, ChannelSendResult, ChannelType } from "../core/alert.ts";
import type {
  ClaimedDelivery,
  Delivery,
  DeliveryAttempt,
  DeliveryPurpose,
  DeliveryStatus,
  NewDelivery,
} from "../core/delivery.ts";
import type {
  ClaimOptions,
  FinishAttempt,
  JobChanges,
  OutboxRepository,
  ReplayInput,
} from "../core/alert-ports.ts";
import type { NewTimelineEvent } from "../core/emergency-record.ts";
import type { SecretBox } from "../core/secret-box.ts";
import { JobStore } from "./job-store.ts";
import { insertTimeline } from "./emergency-timeline.ts";
import type { AlertDeliveriesTable, Database, Engine } from "./schema.ts";

/** Binds a sealed alert message to its delivery row. */
export function deliveryMessageAad(deliveryId: string): string {
  return `alert_deliveries:message:${deliveryId}`;
}

const MAX_DETAIL = 500;

/**
 * `alert_deliveries` (the outbox) and `delivery_attempts`. Rows are claimed with a lease as the inbox's are, so a
 * crashed worker's rows come back after the lease and, with several instances, each due row goes to one of them.
 * Messages are sealed at rest (they carry the acknowledgement token and the caller's details).
 */
export class AlertOutboxStore implements OutboxRepository {
  readonly #db: Kysely<Database>;
  readonly #engine: Engine;
  readonly #box: SecretBox;
  readonly #onChanged: (emergencyId: string) => void;

  constructor(
    db: Kysely<Database>,
    engine: Engine,
    box: SecretBox,
    /** `onChanged`: after a commit that added to an emergency's timeline (the live board's feed). */
    options: { onChanged?(emergencyId: string): void } = {},
  ) {
    this.#db = db;
    this.#engine = engine;
    this.#box = box;
    this.#onChanged = options.onChanged ?? (() => {});
  }

  #announce(timeline: readonly NewTimelineEvent[]): void {
    for (const id of new Set(timeline.map((e) => e.emergencyId))) this.#onChanged(id);
  }

  /** Stores new rows (operational alerts) in one transaction; with `claim`, they come back leased to its owner. */
  async enqueue(
    rows: readonly NewDelivery[],
    claim?: ClaimOptions,
    jobs: JobChanges = {},
  ): Promise<ClaimedDelivery[]> {
    if (rows.length === 0) return [];
    return this.#db.transaction().execute(async (trx) => {
      const claimed = await insertDeliveries(trx, this.#box, rows, claim);
      await applyJobChanges(trx, this.#engine, jobs, claim?.now ?? rows[0]!.nextAttemptAt);
      return claimed;
    });
  }

  /** Claims due rows (emergencies first) for `owner` until `now + leaseMs`; a dead owner's lease simply runs out. */
  async claim(owner: string, now: number, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
    // SKIP LOCKED lets several PostgreSQL instances claim disjoint rows; SQLite has a single writer anyway.
    const lockClause = this.#engine === "postgres" ? sql`for update skip locked` : sql``;
    const result = await sql<Selectable<AlertDeliveriesTable>>`
      update alert_deliveries set locked_by = ${owner}, locked_until = ${now + leaseMs}, attempts = attempts + 1
      where id in (
        select id from alert_deliveries
        where status = 'pending' and next_attempt_at <= ${now}
          and (locked_until is null or locked_until <= ${now})
        order by priority, next_attempt_at, id
        limit ${limit}
        ${lockClause}
      )
      returning *`.execute(this.#db);
    return result.rows
      .sort((a, b) => a.priority - b.priority || Number(a.next_attempt_at) - Number(b.next_attempt_at))
      .map((row) => this.#claimed(row));
  }

  /**
   * Records one attempt: the attempt row and the timeline always (it happened), the row's new state only while
   * `owner` still holds the lease (otherwise another worker took it over and owns the outcome). True when the
   * row was updated.
   */
  async finish(input: FinishAttempt): Promise<boolean> {
    const held = await this.#db.transaction().execute(async (trx) => {
      const { decision, attempt } = input;
      const detail = attempt.detail === null ? null : attempt.detail.slice(0, MAX_DETAIL);
      await trx
        .insertInto("delivery_attempts")
        .values({
          id: `${input.id}.${attempt.attempt}.${randomBytes(3).toString("hex")}`,
          delivery_id: input.id,
          attempt: attempt.attempt,
          started_at: attempt.startedAt,
          latency_ms: Math.max(0, Math.round(attempt.latencyMs)),
          outcome: attempt.outcome,
          status_code: attempt.statusCode,
          detail,
        })
        .execute();
      const common = {
        locked_by: null,
        locked_until: null,
        last_attempt_at: attempt.startedAt,
        last_outcome: attempt.outcome,
        last_status_code: attempt.statusCode,
        last_detail:
          decision.status === "dead"
            ? `${decision.reason}${detail ? `: ${detail}` : ""}`.slice(0, MAX_DETAIL)
            : detail,
      };
      const changes =
        decision.status === "delivered"
          ? { ...common, status: "delivered", delivered_at: input.now }
          : decision.status === "retry"
            ? { ...common, next_attempt_at: decision.at }
            : { ...common, status: "dead", dead_at: input.now };
      const updated = await trx
        .updateTable("alert_deliveries")
        .set(changes)
        .where("id", "=", input.id)
        .where("locked_by", "=", input.owner)
        .where("status", "=", "pending")
        .executeTakeFirst();
      // Whoever made it, the earliest attempt is the first one (latency to the first channel request).
      await trx
        .updateTable("alert_deliveries")
        .set({ first_attempt_at: attempt.startedAt })
        .where("id", "=", input.id)
        .where((eb) =>
          eb.or([eb("first_attempt_at", "is", null), eb("first_attempt_at", ">", attempt.startedAt)]),
        )
        .execute();
      await insertTimeline(trx, input.timeline);
      const held = updated.numUpdatedRows > 0n;
      if (held) await applyJobChanges(trx, this.#engine, input.jobs, input.now);
      if (input.disableChannel) {
        await trx
          .updateTable("alert_channels")
          .set({
            enabled: 0,
            disabled_reason: input.disableChannel.reason.slice(0, MAX_DETAIL),
            updated_at: input.now,
          })
          .where("id", "=", input.disableChannel.id)
          .execute();
      }
      return held;
    });
    this.#announce(input.timeline);
    return held;
  }

  /**
   * A dead row back to pending with a fresh budget (`maxAttempts` more attempts within `windowMs`), due now.
   * Undefined for an unknown id; the row unchanged (and returned) when it is not dead.
   */
  async replay(
    id: string,
    input: ReplayInput,
  ): Promise<{ replayed: boolean; delivery: Delivery } | undefined> {
    const outcome = await this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom("alert_deliveries")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirst();
      if (row === undefined) return undefined;
      if (row.status !== "dead") return { replayed: false, delivery: toDelivery(row) };
      const changes = {
        status: "pending",
        next_attempt_at: input.now,
        max_attempts: row.attempts + input.maxAttempts,
        deadline_at: input.now + input.windowMs,
        dead_at: null,
        locked_by: null,
        locked_until: null,
      };
      await trx
        .updateTable("alert_deliveries")
        .set(changes)
        .where("id", "=", id)
        .where("status", "=", "dead")
        .execute();
      await insertTimeline(trx, input.timeline);
      await applyJobChanges(trx, this.#engine, input.jobs, input.now);
      return { replayed: true, delivery: toDelivery({ ...row, ...changes }) };
    });
    if (outcome?.replayed) this.#announce(input.timeline);
    return outcome;
  }

  async get(id: string): Promise<Delivery | undefined> {
    const row = await this.#db
      .selectFrom("alert_deliveries")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row === undefined ? undefined : toDelivery(row);
  }

  /** The message as it was (or will be) sent, for tests and operators with database access. */
  async message(id: string): Promise<AlertMessage | undefined> {
    const row = await this.#db
      .selectFrom("alert_deliveries")
      .select(["id", "message_ciphertext"])
      .where("id", "=", id)
      .executeTakeFirst();
    return row === undefined ? undefined : this.#open(row.id, row.message_ciphertext);
  }

  async list(filter: {
    emergencyId?: string;
    orgId?: string;
    status?: DeliveryStatus;
    purpose?: DeliveryPurpose;
    limit?: number;
  }): Promise<Delivery[]> {
    let query = this.#db.selectFrom("alert_deliveries").selectAll();
    if (filter.emergencyId !== undefined) query = query.where("emergency_id", "=", filter.emergencyId);
    if (filter.orgId !== undefined) query = query.where("org_id", "=", filter.orgId);
    if (filter.status !== undefined) query = query.where("status", "=", filter.status);
    if (filter.purpose !== undefined) query = query.where("purpose", "=", filter.purpose);
    const rows = await query
      .orderBy("created_at")
      .orderBy("id")
      .limit(filter.limit ?? 1000)
      .execute();
    return rows.map(toDelivery);
  }

  async attempts(deliveryIds: readonly string[]): Promise<DeliveryAttempt[]> {
    if (deliveryIds.length === 0) return [];
    const rows = await this.#db
      .selectFrom("delivery_attempts")
      .selectAll()
      .where("delivery_id", "in", [...deliveryIds])
      .orderBy("started_at")
      .orderBy("attempt")
      .execute();
    return rows.map((r) => ({
      deliveryId: r.delivery_id,
      attempt: r.attempt,
      startedAt: Number(r.started_at),
      latencyMs: r.latency_ms,
      outcome: r.outcome as ChannelSendResult["outcome"],
      statusCode: r.status_code,
      detail: r.detail,
    }));
  }

  /** When each pending row next needs a worker: its next attempt, or when an in-flight lease runs out. */
  async pendingDueTimes(): Promise<{ id: string; orgId: string; at: number }[]> {
    const rows = await this.#db
      .selectFrom("alert_deliveries")
      .select(["id", "org_id", "next_attempt_at", "locked_until"])
      .where("status", "=", "pending")
      .execute();
    return rows.map((r) => ({
      id: r.id,
      orgId: r.org_id,
      at: Math.max(Number(r.next_attempt_at), r.locked_until === null ? 0 : Number(r.locked_until)),
    }));
  }

  async release(ids: readonly string[], owner: string, jobs: JobChanges, now: number): Promise<void> {
    if (ids.length === 0) return;
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable("alert_deliveries")
        .set((eb) => ({ locked_by: null, locked_until: null, attempts: eb("attempts", "-", 1) }))
        .where("id", "in", [...ids])
        .where("locked_by", "=", owner)
        .where("status", "=", "pending")
        .execute();
      await applyJobChanges(trx, this.#engine, jobs, now);
    });
  }

  /**
   * Every pending row `owner` still holds, handed back together with `jobsFor(released)` (the owner's last act
   * before it stops, after its sends finished). Returns how many.
   */
  async releaseAllOf(
    owner: string,
    now: number,
    jobsFor: (released: { id: string; orgId: string }[]) => JobChanges,
  ): Promise<number> {
    return this.#db.transaction().execute(async (trx) => {
      const rows = await trx
        .updateTable("alert_deliveries")
        .set({ locked_by: null, locked_until: null })
        .where("locked_by", "=", owner)
        .where("status", "=", "pending")
        .returning(["id", "org_id"])
        .execute();
      if (rows.length > 0)
        await applyJobChanges(
          trx,
          this.#engine,
          jobsFor(rows.map((r) => ({ id: r.id, orgId: r.org_id }))),
          now,
        );
      return rows.length;
    });
  }

  #claimed(row: Selectable<AlertDeliveriesTable>): ClaimedDelivery {
    return {
      id: row.id,
      orgId: row.org_id,
      emergencyId: row.emergency_id,
      channelId: row.channel_id,
      channelName: row.channel_name,
      purpose: row.purpose as DeliveryPurpose,
      tier: row.tier,
      attempts: row.attempts,
      maxAttempts: row.max_attempts,
      deadlineAt: Number(row.deadline_at),
      createdAt: Number(row.created_at),
      firstAttemptAt: row.first_attempt_at === null ? null : Number(row.first_attempt_at),
      message: this.#open(row.id, row.message_ciphertext),
    };
  }

  #open(id: string, ciphertext: string): AlertMessage {
    return JSON.parse(this.#box.open(ciphertext, deliveryMessageAad(id))) as AlertMessage;
  }
}

/**
 * Inserts outbox rows inside the caller's transaction (raising an emergency stores it and its first deliveries
 * together). A row whose dedupe key exists is skipped. With `claim`, the new rows are leased to its owner at
 * once, so the raising process sends them without another round trip; returned as claimed rows.
 */
export async function insertDeliveries(
  trx: Kysely<Database>,
  box: SecretBox,
  rows: readonly NewDelivery[],
  claim?: ClaimOptions,
): Promise<ClaimedDelivery[]> {
  if (rows.length === 0) return [];
  const values = rows.map((d) => ({
    id: d.id,
    dedupe_key: d.dedupeKey,
    org_id: d.orgId,
    emergency_id: d.emergencyId,
    event_id: d.eventId,
    channel_id: d.channel.id,
    channel_type: d.channel.type,
    channel_name: d.channel.name,
    policy_id: d.policyId,
    tier: d.tier,
    step: d.step,
    purpose: d.purpose,
    priority: d.priority,
    status: "pending",
    message_ciphertext: box.seal(JSON.stringify(d.message), deliveryMessageAad(d.id)),
    attempts: claim ? 1 : 0,
    max_attempts: d.maxAttempts,
    deadline_at: d.deadlineAt,
    next_attempt_at: d.nextAttemptAt,
    locked_by: claim ? claim.owner : null,
    locked_until: claim ? claim.now + claim.leaseMs : null,
    created_at: claim?.now ?? d.nextAttemptAt,
    first_attempt_at: null,
    last_attempt_at: null,
    delivered_at: null,
    dead_at: null,
    last_outcome: null,
    last_status_code: null,
    last_detail: null,
  }));
  const inserted = await trx
    .insertInto("alert_deliveries")
    .values(values)
    .onConflict((oc) => oc.column("dedupe_key").doNothing())
    .returning("id")
    .execute();
  if (!claim) return [];
  const ids = new Set(inserted.map((r) => r.id));
  return rows
    .filter((d) => ids.has(d.id))
    .map((d) => ({
      id: d.id,
      orgId: d.orgId,
      emergencyId: d.emergencyId,
      channelId: d.channel.id,
      channelName: d.channel.name,
      purpose: d.purpose,
      tier: d.tier,
      attempts: 1,
      maxAttempts: d.maxAttempts,
      deadlineAt: d.deadlineAt,
      createdAt: claim.now,
      firstAttemptAt: null,
      message: d.message,
    }));
}

/**
 * An acknowledgement stops escalation: pending escalation and repeat rows not in flight are cancelled (a row a
 * worker is sending right now finishes). Returns the cancelled ids.
 */
export async function cancelPendingEscalations(
  trx: Kysely<Database>,
  emergencyId: string,
  now: number,
): Promise<string[]> {
  const rows = await trx
    .updateTable("alert_deliveries")
    .set({ status: "cancelled", last_detail: "cancelled: the emergency was acknowledged" })
    .where("emergency_id", "=", emergencyId)
    .where("status", "=", "pending")
    .where("purpose", "in", ["escalation", "repeat"])
    .where((eb) => eb.or([eb("locked_until", "is", null), eb("locked_until", "<=", now)]))
    .returning("id")
    .execute();
  return rows.map((r) => r.id);
}

export async function applyJobChanges(
  trx: Kysely<Database>,
  engine: Engine,
  changes: JobChanges,
  now: number,
): Promise<void> {
  if (!changes.schedule?.length && !changes.unschedule?.length) return;
  const jobs = new JobStore(trx, engine);
  for (const key of changes.unschedule ?? []) await jobs.unschedule(key);
  for (const job of changes.schedule ?? []) await jobs.schedule(job, now);
}

export function toDelivery(row: Selectable<AlertDeliveriesTable>): Delivery {
  const num = (v: number | null) => (v === null ? null : Number(v));
  return {
    id: row.id,
    orgId: row.org_id,
    emergencyId: row.emergency_id,
    eventId: row.event_id,
    channelId: row.channel_id,
    channelType: row.channel_type as ChannelType,
    channelName: row.channel_name,
    policyId: row.policy_id,
    tier: row.tier,
    step: row.step,
    purpose: row.purpose as DeliveryPurpose,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    deadlineAt: Number(row.deadline_at),
    nextAttemptAt: Number(row.next_attempt_at),
    lockedBy: row.locked_by,
    lockedUntil: num(row.locked_until),
    createdAt: Number(row.created_at),
    firstAttemptAt: num(row.first_attempt_at),
    lastAttemptAt: num(row.last_attempt_at),
    deliveredAt: num(row.delivered_at),
    deadAt: num(row.dead_at),
    lastOutcome: row.last_outcome as ChannelSendResult["outcome"] | null,
    lastStatusCode: row.last_status_code,
    lastDetail: row.last_detail,
  };
}
