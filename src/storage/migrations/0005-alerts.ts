import type { Kysely, Migration } from "kysely";
import type { Engine } from "../schema.ts";

// Alerting: emergencies (one per org, chat and message), their timeline and acknowledgement links, the org's
// channels (secrets sealed), policies with escalation tiers, template overrides, and the outbox of deliveries
// with every attempt. Deliveries keep the channel's id, type and name but no foreign key to it: the record of
// what was sent must survive the channel's deletion.
export function alerts(_engine: Engine): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("emergencies")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("chat_id", "text", (c) => c.notNull())
        .addColumn("message_id", "text", (c) => c.notNull())
        .addColumn("is_test", "integer", (c) => c.notNull())
        .addColumn("dial_string", "text")
        .addColumn("caller_name", "text")
        .addColumn("location_quality", "text", (c) => c.notNull())
        .addColumn("rule_id", "text", (c) => c.notNull())
        .addColumn("emergency_json", "text", (c) => c.notNull())
        .addColumn("policy_json", "text")
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("escalation_step", "integer", (c) => c.notNull())
        .addColumn("message_time", "bigint")
        .addColumn("detected_at", "bigint", (c) => c.notNull())
        .addColumn("acknowledged_at", "bigint")
        .addColumn("acknowledged_by", "text")
        .addColumn("acknowledged_via", "text")
        .addColumn("acknowledged_channel_id", "text")
        // Duplicates and edits of the notification message never raise a second emergency.
        .addUniqueConstraint("emergencies_message_unique", ["org_id", "chat_id", "message_id"])
        .execute();
      await db.schema
        .createIndex("emergencies_detected_idx")
        .on("emergencies")
        .columns(["detected_at", "id"])
        .execute();
      await db.schema
        .createIndex("emergencies_org_detected_idx")
        .on("emergencies")
        .columns(["org_id", "detected_at"])
        .execute();

      await db.schema
        .createTable("emergency_events")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("emergency_id", "text", (c) =>
          c.notNull().references("emergencies.id").onDelete("cascade"),
        )
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("message", "text", (c) => c.notNull())
        .addColumn("details_json", "text")
        .execute();
      await db.schema
        .createIndex("emergency_events_emergency_idx")
        .on("emergency_events")
        .columns(["emergency_id", "at", "id"])
        .execute();

      await db.schema
        .createTable("ack_tokens")
        .addColumn("token_hash", "text", (c) => c.primaryKey())
        .addColumn("emergency_id", "text", (c) =>
          c.notNull().references("emergencies.id").onDelete("cascade"),
        )
        .addColumn("channel_id", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("ack_tokens_emergency_idx")
        .on("ack_tokens")
        .column("emergency_id")
        .execute();

      await db.schema
        .createTable("alert_channels")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("enabled", "integer", (c) => c.notNull())
        .addColumn("settings_json", "text", (c) => c.notNull())
        .addColumn("secrets_ciphertext", "text")
        .addColumn("disabled_reason", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("alert_channels_org_idx").on("alert_channels").column("org_id").execute();

      await db.schema
        .createTable("alert_policies")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("call_type", "text", (c) => c.notNull())
        .addColumn("location_match_json", "text")
        .addColumn("priority", "integer", (c) => c.notNull())
        .addColumn("enabled", "integer", (c) => c.notNull())
        .addColumn("tiers_json", "text", (c) => c.notNull())
        .addColumn("retry_json", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("alert_policies_org_idx").on("alert_policies").column("org_id").execute();

      await db.schema
        .createTable("alert_templates")
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("title", "text", (c) => c.notNull())
        .addColumn("text", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("alert_templates_pk", ["org_id", "kind"])
        .execute();

      await db.schema
        .createTable("alert_deliveries")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("dedupe_key", "text", (c) => c.notNull().unique())
        .addColumn("org_id", "text", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
        .addColumn("emergency_id", "text", (c) => c.references("emergencies.id").onDelete("cascade"))
        .addColumn("event_id", "text")
        .addColumn("channel_id", "text", (c) => c.notNull())
        .addColumn("channel_type", "text", (c) => c.notNull())
        .addColumn("channel_name", "text", (c) => c.notNull())
        .addColumn("policy_id", "text")
        .addColumn("tier", "integer", (c) => c.notNull())
        .addColumn("step", "integer", (c) => c.notNull())
        .addColumn("purpose", "text", (c) => c.notNull())
        .addColumn("priority", "integer", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("message_ciphertext", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("max_attempts", "integer", (c) => c.notNull())
        .addColumn("deadline_at", "bigint", (c) => c.notNull())
        .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
        .addColumn("locked_by", "text")
        .addColumn("locked_until", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("first_attempt_at", "bigint")
        .addColumn("last_attempt_at", "bigint")
        .addColumn("delivered_at", "bigint")
        .addColumn("dead_at", "bigint")
        .addColumn("last_outcome", "text")
        .addColumn("last_status_code", "integer")
        .addColumn("last_detail", "text")
        .execute();
      await db.schema
        .createIndex("alert_deliveries_due_idx")
        .on("alert_deliveries")
        .columns(["status", "next_attempt_at"])
        .execute();
      await db.schema
        .createIndex("alert_deliveries_emergency_idx")
        .on("alert_deliveries")
        .column("emergency_id")
        .execute();
      await db.schema
        .createIndex("alert_deliveries_org_idx")
        .on("alert_deliveries")
        .column("org_id")
        .execute();

      await db.schema
        .createTable("delivery_attempts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("delivery_id", "text", (c) =>
          c.notNull().references("alert_deliveries.id").onDelete("cascade"),
        )
        .addColumn("attempt", "integer", (c) => c.notNull())
        .addColumn("started_at", "bigint", (c) => c.notNull())
        .addColumn("latency_ms", "integer", (c) => c.notNull())
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("status_code", "integer")
        .addColumn("detail", "text")
        .execute();
      await db.schema
        .createIndex("delivery_attempts_delivery_idx")
        .on("delivery_attempts")
        .columns(["delivery_id", "attempt"])
        .execute();

      // Operational alerts of one kind for one org go out at most once per window (no floods).
      await db.schema
        .createTable("alert_throttle")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("last_at", "bigint", (c) => c.notNull())
        .execute();
    },

    async down(db: Kysely<any>) {
      for (const table of [
        "alert_throttle",
        "delivery_attempts",
        "alert_deliveries",
        "alert_templates",
        "alert_policies",
        "alert_channels",
        "ack_tokens",
        "emergency_events",
        "emergencies",
      ]) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}
