import type { Kysely, Migration } from "kysely";
import type { Engine } from "../schema.ts";

// Connecting an org's service user: its connection state, the encrypted msal token cache, pending OAuth
// requests (so a callback may reach any instance) and leases (per-org refresh locks across instances).
export function connections(_engine: Engine): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable("orgs").addColumn("expected_service_user_upn", "text").execute();
      // Smallest "days left" threshold (30/14/7/1/0) already announced for the current secret expiry.
      await db.schema.alterTable("orgs").addColumn("secret_expiry_warned_days", "integer").execute();

      await db.schema
        .createTable("ms_connections")
        .addColumn("org_id", "text", (c) => c.primaryKey().references("orgs.id").onDelete("cascade"))
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("tenant_id", "text", (c) => c.notNull())
        .addColumn("user_id", "text", (c) => c.notNull())
        .addColumn("user_principal_name", "text", (c) => c.notNull())
        .addColumn("user_display_name", "text")
        .addColumn("home_account_id", "text", (c) => c.notNull())
        .addColumn("access_token_expires_at", "bigint")
        .addColumn("last_refresh_at", "bigint")
        .addColumn("consecutive_failures", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("last_error_bucket", "text")
        .addColumn("last_error_aadsts", "integer")
        .addColumn("last_error_message", "text")
        .addColumn("connected_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("ms_token_caches")
        .addColumn("org_id", "text", (c) => c.primaryKey().references("orgs.id").onDelete("cascade"))
        .addColumn("cache_ciphertext", "text", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("oauth_pending")
        .addColumn("state", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("code_verifier_ciphertext", "text", (c) => c.notNull())
        .addColumn("nonce", "text", (c) => c.notNull())
        .addColumn("login_hint", "text")
        .addColumn("replace_user", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("oauth_pending_org_id_idx").on("oauth_pending").column("org_id").execute();

      await db.schema
        .createTable("leases")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("owner", "text", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
    },

    async down(db: Kysely<any>) {
      for (const table of ["leases", "oauth_pending", "ms_token_caches", "ms_connections"]) {
        await db.schema.dropTable(table).execute();
      }
      await db.schema.alterTable("orgs").dropColumn("secret_expiry_warned_days").execute();
      await db.schema.alterTable("orgs").dropColumn("expected_service_user_upn").execute();
    },
  };
}
