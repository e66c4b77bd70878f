import type { Kysely, Migration } from "kysely";
import type { Engine } from "../schema.ts";

// Emergency detection: per-org detection rules, and drills with the messages captured while they ran (the only
// place ordinary message content is ever kept, and only until DRILL_CAPTURE_RETENTION_MS after the drill).
export function detection(_engine: Engine): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("detection_rules")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addColumn("marks_test", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("detection_rules_org_idx").on("detection_rules").column("org_id").execute();

      await db.schema
        .createTable("drills")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("started_at", "bigint", (c) => c.notNull())
        .addColumn("ends_at", "bigint", (c) => c.notNull())
        .addColumn("ended_at", "bigint")
        .addColumn("captures_purged_at", "bigint")
        .execute();
      // Every new message asks whether its org has a running drill.
      await db.schema.createIndex("drills_org_idx").on("drills").columns(["org_id", "ends_at"]).execute();

      await db.schema
        .createTable("drill_captures")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("drill_id", "text", (c) => c.notNull().references("drills.id").onDelete("cascade"))
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("chat_id", "text", (c) => c.notNull())
        .addColumn("message_id", "text", (c) => c.notNull())
        .addColumn("captured_at", "bigint", (c) => c.notNull())
        .addColumn("detected", "integer", (c) => c.notNull())
        .addColumn("rule_id", "text")
        .addColumn("reason", "text")
        .addColumn("message_json", "text", (c) => c.notNull())
        .addColumn("result_json", "text", (c) => c.notNull())
        .addUniqueConstraint("drill_captures_message_uq", ["drill_id", "chat_id", "message_id"])
        .execute();
    },

    async down(db: Kysely<any>) {
      for (const table of ["drill_captures", "drills", "detection_rules"]) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}
