import type { Kysely, Selectable } from "kysely";
import type { DetectionRuleInput } from "../core/detection-rule-input.ts";
import type { DetectionRuleSource } from "../core/detection-ports.ts";
import type { DetectionRule } from "../core/emergency.ts";
import { sortableId } from "./sortable-id.ts";
import type { Database, DetectionRulesTable } from "./schema.ts";

/** A per-org rule as stored. */
export interface StoredDetectionRule extends DetectionRule {
  orgId: string;
  marksTest: boolean;
  createdAt: number;
  updatedAt: number;
}

/** `rule_` + a time-ordered id: rules created in the same millisecond still list in the order they were made. */
export function newRuleId(now: number): string {
  return `rule_${sortableId(now)}`;
}

/** `detection_rules`: each org's own rules. Input arrives validated (core/detection-rule-input.ts). */
export class DetectionRuleStore implements DetectionRuleSource {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async listForOrg(orgId: string): Promise<DetectionRule[]> {
    return this.list(orgId);
  }

  /** Oldest first: detection tries them in this order after the default rule. */
  async list(orgId: string): Promise<StoredDetectionRule[]> {
    const rows = await this.#db
      .selectFrom("detection_rules")
      .selectAll()
      .where("org_id", "=", orgId)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(toRule);
  }

  async get(orgId: string, id: string): Promise<StoredDetectionRule | undefined> {
    const row = await this.#db
      .selectFrom("detection_rules")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    return row === undefined ? undefined : toRule(row);
  }

  async count(orgId: string): Promise<number> {
    const row = await this.#db
      .selectFrom("detection_rules")
      .select((eb) => eb.fn.countAll<string | number>().as("count"))
      .where("org_id", "=", orgId)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async create(orgId: string, input: DetectionRuleInput, now: number): Promise<StoredDetectionRule> {
    const row: Selectable<DetectionRulesTable> = {
      id: newRuleId(now),
      org_id: orgId,
      name: input.name,
      kind: input.kind,
      value: input.value,
      marks_test: input.marksTest ? 1 : 0,
      created_at: now,
      updated_at: now,
    };
    await this.#db.insertInto("detection_rules").values(row).execute();
    return toRule(row);
  }

  /** The rule after the change, or undefined when the org has no such rule. */
  async update(
    orgId: string,
    id: string,
    input: DetectionRuleInput,
    now: number,
  ): Promise<StoredDetectionRule | undefined> {
    const result = await this.#db
      .updateTable("detection_rules")
      .set({
        name: input.name,
        kind: input.kind,
        value: input.value,
        marks_test: input.marksTest ? 1 : 0,
        updated_at: now,
      })
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n ? this.get(orgId, id) : undefined;
  }

  async delete(orgId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("detection_rules")
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

function toRule(row: Selectable<DetectionRulesTable>): StoredDetectionRule {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    kind: row.kind === "pattern" ? "pattern" : "phrase",
    value: row.value,
    marksTest: row.marks_test === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
