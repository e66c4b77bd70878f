import type { Kysely, Migration } from "kysely";
import type { Engine } from "../schema.ts";

// Migrations see `Kysely<any>`: they describe the schema as it was at that point, not today's types.
export function foundation(_engine: Engine): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("orgs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("tenant_id", "text")
        .addColumn("client_id", "text")
        .addColumn("client_secret_ciphertext", "text")
        .addColumn("client_secret_expires_at", "bigint")
        .addColumn("webhook_base_url", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("operational_events")
        .addColumn("id", "text", (c) => c.primaryKey())
        // Events outlive their org: they are the record of what went wrong.
        .addColumn("org_id", "text", (c) => c.references("orgs.id").onDelete("set null"))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("severity", "text", (c) => c.notNull())
        .addColumn("message", "text", (c) => c.notNull())
        .addColumn("details_json", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("operational_events_created_at_idx")
        .on("operational_events")
        .columns(["created_at", "id"])
        .execute();
      await db.schema
        .createIndex("operational_events_org_created_at_idx")
        .on("operational_events")
        .columns(["org_id", "created_at", "id"])
        .execute();

      await db.schema
        .createTable("jobs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("org_id", "text", (c) => c.references("orgs.id").onDelete("cascade"))
        .addColumn("dedupe_key", "text")
        .addColumn("run_at", "bigint", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("max_attempts", "integer", (c) => c.notNull())
        .addColumn("locked_by", "text")
        .addColumn("locked_until", "bigint")
        .addColumn("last_error", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addUniqueConstraint("jobs_dedupe_key_unique", ["dedupe_key"])
        .execute();
      await db.schema.createIndex("jobs_run_at_idx").on("jobs").column("run_at").execute();
      // PostgreSQL does not index referencing columns itself; cascading deletes would scan the table.
      await db.schema.createIndex("jobs_org_id_idx").on("jobs").column("org_id").execute();

      await db.schema
        .createTable("kv")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
    },

    async down(db: Kysely<any>) {
      for (const table of ["kv", "jobs", "operational_events", "orgs"]) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}
