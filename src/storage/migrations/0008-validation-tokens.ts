import type { Kysely, Migration } from "kysely";
import type { Engine } from "../schema.ts";

// Graph attaches the same validation token (a JWT of about 1 KB, valid for about an hour) to every notification
// batch it sends in that hour. Inbox rows reference it by its SHA-256 instead of each carrying a copy: a rich row
// shrinks by about a third, and so do the pages the webhook's inbox commits write (docs/benchmarks.md, issue 4).
export function validationTokens(_engine: Engine): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("validation_tokens")
        // Hex SHA-256 of the token.
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("token", "text", (c) => c.notNull())
        .addColumn("first_seen_at", "bigint", (c) => c.notNull())
        .execute();
    },

    async down(db: Kysely<any>) {
      await db.schema.dropTable("validation_tokens").execute();
    },
  };
}
