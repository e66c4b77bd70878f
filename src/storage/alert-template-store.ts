import type { Kysely } from "kysely";
import type { TemplateRepository } from "../core/alert-ports.ts";
import type { AlertTemplate, TemplateKind } from "../core/alert-template.ts";
import type { Database } from "./schema.ts";

export interface StoredTemplate extends AlertTemplate {
  kind: TemplateKind;
  updatedAt: number;
}

/** `alert_templates`: an org's overrides of the built-in templates (core/alert-template.ts), one per kind. */
export class AlertTemplateStore implements TemplateRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The org's overrides by kind; kinds without one use the built-in default. */
  async overrides(orgId: string): Promise<Partial<Record<TemplateKind, StoredTemplate>>> {
    const rows = await this.#db
      .selectFrom("alert_templates")
      .selectAll()
      .where("org_id", "=", orgId)
      .execute();
    const found: Partial<Record<TemplateKind, StoredTemplate>> = {};
    for (const row of rows) {
      const kind = row.kind as TemplateKind;
      found[kind] = { kind, title: row.title, text: row.text, updatedAt: Number(row.updated_at) };
    }
    return found;
  }

  async put(
    orgId: string,
    kind: TemplateKind,
    template: AlertTemplate,
    now: number,
  ): Promise<StoredTemplate> {
    await this.#db
      .insertInto("alert_templates")
      .values({ org_id: orgId, kind, title: template.title, text: template.text, updated_at: now })
      .onConflict((oc) =>
        oc
          .columns(["org_id", "kind"])
          .doUpdateSet({ title: template.title, text: template.text, updated_at: now }),
      )
      .execute();
    return { kind, title: template.title, text: template.text, updatedAt: now };
  }

  /** Back to the built-in default; true when there was an override. */
  async delete(orgId: string, kind: TemplateKind): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("alert_templates")
      .where("org_id", "=", orgId)
      .where("kind", "=", kind)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
