import type { Kysely, Migration } from "kysely";
import type { Engine } from "../schema.ts";

// Per-org choice between rich notifications (the default) and basic ones, fetched message by message.
export function notificationMode(_engine: Engine): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable("orgs")
        .addColumn("notification_mode", "text", (c) => c.notNull().defaultTo("rich"))
        .execute();
    },
  };
}
