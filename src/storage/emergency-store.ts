import type { Kysely, Selectable } from "kysely";
import type { PolicySnapshot } from "../core/alert-policy.ts";
import type { ClaimedDelivery } from "../core/delivery.ts";
import type { Emergency, LocationQuality } from "../core/emergency.ts";
import type {
  Acknowledgement,
  AcknowledgedVia,
  EmergencyFilter,
  EmergencyRecord,
  EmergencyState,
  NewTimelineEvent,
  TimelineEvent,
} from "../core/emergency-record.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type {
  AckTokenRow,
  AcknowledgeInput,
  AcknowledgeOutcome,
  AdvanceEscalationInput,
  EmergencyRepository,
  RaiseOutcome,
  RaisePlan,
} from "../core/alert-ports.ts";
import type { EmergencyChange, EmergencyChangeSource } from "../core/emergency-feed.ts";
import { applyJobChanges, cancelPendingEscalations, insertDeliveries } from "./alert-outbox-store.ts";
import { insertTimeline, readTimeline } from "./emergency-timeline.ts";
import type { Database, EmergenciesTable, Engine } from "./schema.ts";
import { sortableIdFloor } from "./sortable-id.ts";

export interface EmergencyStoreOptions {
  /** Called after a commit that changed an emergency (the live board's feed). */
  onChanged?(emergencyId: string): void;
}

/**
 * `emergencies`, their timeline and acknowledgement tokens. One emergency per (org, chat, message): raising it
 * again (a duplicate notification, an edit, a retry after a crash) changes nothing and sends nothing.
 */
export class EmergencyStore implements EmergencyRepository, EmergencyChangeSource {
  readonly #db: Kysely<Database>;
  readonly #engine: Engine;
  readonly #box: SecretBox;
  readonly #onChanged: (emergencyId: string) => void;

  constructor(db: Kysely<Database>, engine: Engine, box: SecretBox, options: EmergencyStoreOptions = {}) {
    this.#db = db;
    this.#engine = engine;
    this.#box = box;
    this.#onChanged = options.onChanged ?? (() => {});
  }

  /** Stores the emergency with its timeline, links and first deliveries, or returns the one already stored. */
  async raise(plan: RaisePlan): Promise<RaiseOutcome> {
    const outcome = await this.#db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto("emergencies")
        .values(toRow(plan.record))
        .onConflict((oc) => oc.columns(["org_id", "chat_id", "message_id"]).doNothing())
        .returning("id")
        .executeTakeFirst();
      if (inserted === undefined) return undefined;
      await insertTimeline(trx, plan.timeline);
      await insertAckTokens(trx, plan.record.id, plan.ackTokens, plan.record.detectedAt);
      const claimed = await insertDeliveries(trx, this.#box, plan.deliveries, plan.claim);
      await applyJobChanges(trx, this.#engine, plan.jobs, plan.record.detectedAt);
      return claimed;
    });
    if (outcome !== undefined) {
      this.#onChanged(plan.record.id);
      return { created: true, emergency: plan.record, claimed: outcome };
    }
    const existing = await this.findByMessage(plan.record.orgId, plan.record.chatId, plan.record.messageId);
    if (existing === undefined) throw new Error("emergency insert conflicted but the existing row is gone");
    return { created: false, emergency: existing };
  }

  async get(id: string): Promise<EmergencyRecord | undefined> {
    const row = await this.#db.selectFrom("emergencies").selectAll().where("id", "=", id).executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  }

  async findByMessage(
    orgId: string,
    chatId: string,
    messageId: string,
  ): Promise<EmergencyRecord | undefined> {
    const row = await this.#db
      .selectFrom("emergencies")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("chat_id", "=", chatId)
      .where("message_id", "=", messageId)
      .executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  }

  /** Newest first. */
  async list(filter: EmergencyFilter): Promise<EmergencyRecord[]> {
    let query = this.#db.selectFrom("emergencies").selectAll();
    if (filter.orgId !== undefined) query = query.where("org_id", "=", filter.orgId);
    if (filter.since !== undefined) query = query.where("detected_at", ">=", filter.since);
    if (filter.until !== undefined) query = query.where("detected_at", "<", filter.until);
    if (filter.state !== undefined) query = query.where("state", "=", filter.state);
    if (filter.isTest !== undefined) query = query.where("is_test", "=", filter.isTest ? 1 : 0);
    const before = filter.before;
    if (before !== undefined)
      query = query.where((eb) =>
        eb.or([
          eb("detected_at", "<", before.detectedAt),
          eb.and([eb("detected_at", "=", before.detectedAt), eb("id", "<", before.id)]),
        ]),
      );
    const rows = await query
      .orderBy("detected_at", "desc")
      .orderBy("id", "desc")
      .limit(filter.limit)
      .execute();
    return rows.map(toRecord);
  }

  timeline(id: string): Promise<TimelineEvent[]> {
    return readTimeline(this.#db, id);
  }

  async addTimeline(events: readonly NewTimelineEvent[]): Promise<void> {
    await insertTimeline(this.#db, events);
    for (const id of new Set(events.map((e) => e.emergencyId))) this.#onChanged(id);
  }

  /** Timeline events written at or after `fromAt` (then after `afterId`), by id: what changed lately. */
  async changesSince(fromAt: number, afterId: string | undefined, limit: number): Promise<EmergencyChange[]> {
    const floor = sortableIdFloor(fromAt);
    const rows = await this.#db
      .selectFrom("emergency_events")
      .select(["id", "emergency_id", "at"])
      .where("id", ">", afterId !== undefined && afterId > floor ? afterId : floor)
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: r.id, emergencyId: r.emergency_id, at: Number(r.at) }));
  }

  /** The emergency a link token belongs to, unless it expired. */
  async findAckToken(
    hash: string,
    now: number,
  ): Promise<{ emergencyId: string; channelId: string | null } | undefined> {
    const row = await this.#db
      .selectFrom("ack_tokens")
      .select(["emergency_id", "channel_id", "expires_at"])
      .where("token_hash", "=", hash)
      .executeTakeFirst();
    if (row === undefined || Number(row.expires_at) <= now) return undefined;
    return { emergencyId: row.emergency_id, channelId: row.channel_id };
  }

  /**
   * The first acknowledgement wins: it is recorded, pending escalations and repeats that are not in flight are
   * cancelled, and the escalation timer is removed, all in one transaction. Later ones change nothing and get
   * the first one back. Undefined for an unknown id.
   */
  async acknowledge(input: AcknowledgeInput): Promise<AcknowledgeOutcome | undefined> {
    const { acknowledgement: ack } = input;
    const outcome = await this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable("emergencies")
        .set({
          state: "acknowledged",
          acknowledged_at: ack.at,
          acknowledged_by: ack.by,
          acknowledged_via: ack.via,
          acknowledged_channel_id: ack.channelId,
        })
        .where("id", "=", input.id)
        .where("acknowledged_at", "is", null)
        .executeTakeFirst();
      let cancelled: string[] = [];
      if (updated.numUpdatedRows > 0n) {
        cancelled = await cancelPendingEscalations(trx, input.id, ack.at);
        await insertTimeline(trx, [
          input.timeline,
          ...(cancelled.length > 0 ? [input.cancelledEvent(cancelled.length)] : []),
        ]);
        await applyJobChanges(trx, this.#engine, { unschedule: input.jobsToRemove(cancelled) }, ack.at);
      }
      const row = await trx
        .selectFrom("emergencies")
        .selectAll()
        .where("id", "=", input.id)
        .executeTakeFirst();
      if (row === undefined) return undefined;
      return { acknowledged: updated.numUpdatedRows > 0n, emergency: toRecord(row), cancelled };
    });
    if (outcome?.acknowledged) this.#onChanged(input.id);
    return outcome;
  }

  /**
   * Carries out escalation steps `fromStep` up to `toStep` (exclusive): moves the step counter and stores the new
   * deliveries and timeline together. Undefined (nothing written) when the emergency was acknowledged or another
   * worker already moved the counter.
   */
  async advanceEscalation(input: AdvanceEscalationInput): Promise<ClaimedDelivery[] | undefined> {
    const claimed = await this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable("emergencies")
        .set({ escalation_step: input.toStep })
        .where("id", "=", input.id)
        .where("escalation_step", "=", input.fromStep)
        .where("acknowledged_at", "is", null)
        .executeTakeFirst();
      if (updated.numUpdatedRows === 0n) return undefined;
      await insertTimeline(trx, input.timeline);
      await insertAckTokens(trx, input.id, input.ackTokens, input.now);
      const claimed = await insertDeliveries(trx, this.#box, input.deliveries, input.claim);
      await applyJobChanges(trx, this.#engine, input.jobs, input.now);
      return claimed;
    });
    if (claimed !== undefined) this.#onChanged(input.id);
    return claimed;
  }
}

async function insertAckTokens(
  trx: Kysely<Database>,
  emergencyId: string,
  tokens: readonly AckTokenRow[],
  now: number,
): Promise<void> {
  if (tokens.length === 0) return;
  await trx
    .insertInto("ack_tokens")
    .values(
      tokens.map((t) => ({
        token_hash: t.hash,
        emergency_id: emergencyId,
        channel_id: t.channelId,
        created_at: now,
        expires_at: t.expiresAt,
      })),
    )
    .execute();
}

function toRow(record: EmergencyRecord): Selectable<EmergenciesTable> {
  return {
    id: record.id,
    org_id: record.orgId,
    chat_id: record.chatId,
    message_id: record.messageId,
    is_test: record.isTest ? 1 : 0,
    dial_string: record.dialString,
    caller_name: record.callerName,
    location_quality: record.locationQuality,
    rule_id: record.ruleId,
    emergency_json: JSON.stringify(record.emergency),
    policy_json: record.policy === null ? null : JSON.stringify(record.policy),
    state: record.state,
    escalation_step: record.escalationStep,
    message_time: record.emergency.messageTime,
    detected_at: record.detectedAt,
    acknowledged_at: record.acknowledgement?.at ?? null,
    acknowledged_by: record.acknowledgement?.by ?? null,
    acknowledged_via: record.acknowledgement?.via ?? null,
    acknowledged_channel_id: record.acknowledgement?.channelId ?? null,
  };
}

function toRecord(row: Selectable<EmergenciesTable>): EmergencyRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    chatId: row.chat_id,
    messageId: row.message_id,
    isTest: row.is_test === 1,
    dialString: row.dial_string,
    callerName: row.caller_name,
    locationQuality: row.location_quality as LocationQuality,
    ruleId: row.rule_id,
    emergency: JSON.parse(row.emergency_json) as Emergency,
    policy: row.policy_json === null ? null : (JSON.parse(row.policy_json) as PolicySnapshot),
    state: row.state as EmergencyState,
    escalationStep: row.escalation_step,
    detectedAt: Number(row.detected_at),
    acknowledgement:
      row.acknowledged_at === null
        ? null
        : {
            at: Number(row.acknowledged_at),
            by: row.acknowledged_by,
            via: (row.acknowledged_via ?? "api") as AcknowledgedVia,
            channelId: row.acknowledged_channel_id,
          },
  };
}
