import type { Kysely } from "kysely";
import type { DatabaseConfig } from "../config.ts";
import { openPostgresDatabase } from "./postgres-database.ts";
import type { Database, Engine } from "./schema.ts";
import { openSqliteDatabase } from "./sqlite-database.ts";

export type OpenDatabaseOptions = DatabaseConfig & {
  /** PostgreSQL only. */
  poolMax?: number;
  /** PostgreSQL only: errors on idle pooled connections, for the logger. */
  onBackgroundError?: (error: Error) => void;
};

export interface OpenedDatabase {
  db: Kysely<Database>;
  engine: Engine;
  /** Idempotent. */
  close(): Promise<void>;
}

/** Opens (and for SQLite creates) the database. Does not migrate: call `migrateToLatest` for that. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<OpenedDatabase> {
  const db =
    options.engine === "sqlite"
      ? openSqliteDatabase(options.file)
      : await openPostgresDatabase({
          url: options.url,
          poolMax: options.poolMax,
          onBackgroundError: options.onBackgroundError,
        });
  let closing: Promise<void> | undefined;
  return {
    db,
    engine: options.engine,
    close: () => (closing ??= db.destroy()),
  };
}
