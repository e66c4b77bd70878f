import type { Kysely, Migration } from "kysely";
import type { Engine } from "../schema.ts";

// Receiving Teams messages: Graph subscriptions per org, the per-org encryption certificates for rich
// notifications, the durable inbox the webhook writes before answering 202, the (chat, message) pairs already
// handled, and the reconciliation watermark.
export function intake(_engine: Engine): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("encryption_certificates")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("certificate_der_base64", "text", (c) => c.notNull())
        .addColumn("private_key_ciphertext", "text", (c) => c.notNull())
        .addColumn("thumbprint", "text", (c) => c.notNull())
        .addColumn("not_after", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        // Retired certificates keep decrypting: Graph may still use the old one for a while after rotation.
        .addColumn("retired_at", "bigint")
        .execute();
      await db.schema
        .createIndex("encryption_certificates_org_idx")
        .on("encryption_certificates")
        .column("org_id")
        .execute();

      await db.schema
        .createTable("subscriptions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("resource", "text", (c) => c.notNull())
        .addColumn("change_type", "text", (c) => c.notNull())
        .addColumn("client_state_ciphertext", "text", (c) => c.notNull())
        .addColumn("include_resource_data", "integer", (c) => c.notNull())
        .addColumn("encryption_certificate_id", "text")
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("last_renewed_at", "bigint")
        .addColumn("last_notification_at", "bigint")
        .addColumn("last_error", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("subscriptions_org_idx").on("subscriptions").column("org_id").execute();

      await db.schema
        .createTable("inbox")
        .addColumn("id", "text", (c) => c.primaryKey())
        // Graph redelivers; the same item arriving twice is stored once.
        .addColumn("dedupe_key", "text", (c) => c.notNull().unique())
        .addColumn("org_id", "text", (c) => c.references("orgs.id").onDelete("cascade"))
        .addColumn("subscription_id", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        // The item without its clientState, plus the batch's validationTokens for rich items.
        .addColumn("payload_json", "text", (c) => c.notNull())
        .addColumn("received_at", "bigint", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
        .addColumn("locked_by", "text")
        .addColumn("locked_until", "bigint")
        .addColumn("processed_at", "bigint")
        .addColumn("last_error", "text")
        .execute();
      await db.schema
        .createIndex("inbox_pending_idx")
        .on("inbox")
        .columns(["status", "next_attempt_at"])
        .execute();

      await db.schema
        .createTable("seen_messages")
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("chat_id", "text", (c) => c.notNull())
        .addColumn("message_id", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("first_seen_at", "bigint", (c) => c.notNull())
        .addColumn("message_created_at", "bigint")
        // Null while a worker hands the message to detection; a claim never confirmed goes stale and is taken over.
        .addColumn("handed_off_at", "bigint")
        .addPrimaryKeyConstraint("seen_messages_pk", ["org_id", "chat_id", "message_id"])
        .execute();

      await db.schema
        .createTable("poll_watermarks")
        .addColumn("org_id", "text", (c) => c.primaryKey().references("orgs.id").onDelete("cascade"))
        .addColumn("watermark", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
    },

    async down(db: Kysely<any>) {
      for (const table of [
        "poll_watermarks",
        "seen_messages",
        "inbox",
        "subscriptions",
        "encryption_certificates",
      ]) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}
