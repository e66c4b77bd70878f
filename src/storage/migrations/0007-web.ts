import type { Kysely, Migration } from "kysely";
import type { Engine } from "../schema.ts";

// The web app: local accounts (scrypt hashes), sessions (only the SHA-256 of the id is stored), failed sign-in
// counters for rate limiting, and the audit log of every change made through the web app or the admin API.
export function web(_engine: Engine): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("web_accounts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("username", "text", (c) => c.notNull().unique())
        .addColumn("display_name", "text")
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("password_hash", "text", (c) => c.notNull())
        .addColumn("disabled_at", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("last_login_at", "bigint")
        .addColumn("password_changed_at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("web_sessions")
        .addColumn("id_hash", "text", (c) => c.primaryKey())
        .addColumn("account_id", "text", (c) => c.notNull().references("web_accounts.id").onDelete("cascade"))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("last_seen_at", "bigint", (c) => c.notNull())
        .addColumn("flash_json", "text")
        .execute();
      await db.schema
        .createIndex("web_sessions_account_idx")
        .on("web_sessions")
        .column("account_id")
        .execute();
      await db.schema
        .createIndex("web_sessions_created_idx")
        .on("web_sessions")
        .column("created_at")
        .execute();

      await db.schema
        .createTable("web_login_throttle")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("failures", "integer", (c) => c.notNull())
        .addColumn("last_failure_at", "bigint", (c) => c.notNull())
        .addColumn("locked_until", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("web_audit_log")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("at", "bigint", (c) => c.notNull())
        // Entries outlive the account that made them: the name is copied, the id may dangle.
        .addColumn("actor_account_id", "text")
        .addColumn("actor", "text", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("target_type", "text")
        .addColumn("target_id", "text")
        .addColumn("summary", "text", (c) => c.notNull())
        .addColumn("details_json", "text")
        .addColumn("client_address", "text")
        .execute();
      await db.schema.createIndex("web_audit_log_at_idx").on("web_audit_log").columns(["at", "id"]).execute();
    },

    async down(db: Kysely<any>) {
      for (const table of ["web_audit_log", "web_login_throttle", "web_sessions", "web_accounts"]) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}
