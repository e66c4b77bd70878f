import { randomBytes } from "node:crypto";
import type { PolicyRepository } from "../core/alert-ports.ts";
import type { Kysely, Selectable } from "kysely";
import type {
  AlertPolicy,
  CallType,
  EscalationTier,
  LocationMatch,
  PolicyKind,
  RetrySettings,
} from "../core/alert-policy.ts";
import type { AlertPoliciesTable, Database } from "./schema.ts";

/** A policy's fields as the admin API sets them (validated by core/alert-policy-input.ts). */
export type PolicyFields = Omit<AlertPolicy, "id" | "orgId" | "createdAt" | "updatedAt">;

/** `alert_policies`: routing and escalation per org. Tiers are stored as JSON, checked on the way in. */
export class AlertPolicyStore implements PolicyRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async create(orgId: string, fields: PolicyFields, now: number): Promise<AlertPolicy> {
    const row: Selectable<AlertPoliciesTable> = {
      id: `po_${randomBytes(8).toString("hex")}`,
      org_id: orgId,
      ...toColumns(fields),
      created_at: now,
      updated_at: now,
    };
    await this.#db.insertInto("alert_policies").values(row).execute();
    return toPolicy(row);
  }

  async get(orgId: string, id: string): Promise<AlertPolicy | undefined> {
    const row = await this.#db
      .selectFrom("alert_policies")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    return row === undefined ? undefined : toPolicy(row);
  }

  /** Priority order, then oldest first. */
  async list(orgId: string): Promise<AlertPolicy[]> {
    const rows = await this.#db
      .selectFrom("alert_policies")
      .selectAll()
      .where("org_id", "=", orgId)
      .orderBy("priority")
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(toPolicy);
  }

  /** Replaces every field; undefined for an unknown id. */
  async replace(
    orgId: string,
    id: string,
    fields: PolicyFields,
    now: number,
  ): Promise<AlertPolicy | undefined> {
    const result = await this.#db
      .updateTable("alert_policies")
      .set({ ...toColumns(fields), updated_at: now })
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return undefined;
    return this.get(orgId, id);
  }

  async delete(orgId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("alert_policies")
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

function toColumns(fields: PolicyFields) {
  return {
    name: fields.name,
    kind: fields.kind,
    call_type: fields.callType,
    location_match_json: fields.locationMatch === null ? null : JSON.stringify(fields.locationMatch),
    priority: fields.priority,
    enabled: fields.enabled ? 1 : 0,
    tiers_json: JSON.stringify(fields.tiers),
    retry_json: fields.retry === null ? null : JSON.stringify(fields.retry),
  };
}

function toPolicy(row: Selectable<AlertPoliciesTable>): AlertPolicy {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    kind: row.kind as PolicyKind,
    callType: row.call_type as CallType,
    locationMatch:
      row.location_match_json === null ? null : (JSON.parse(row.location_match_json) as LocationMatch),
    priority: row.priority,
    enabled: row.enabled === 1,
    tiers: JSON.parse(row.tiers_json) as EscalationTier[],
    retry: row.retry_json === null ? null : (JSON.parse(row.retry_json) as RetrySettings),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
