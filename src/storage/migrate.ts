import { Migrator, type Kysely } from "kysely";
import { RelayError } from "../core/errors.ts";
import { migrationProvider } from "./migrations/index.ts";
import type { Engine } from "./schema.ts";

/**
 * Applies every pending migration, each in a transaction. Safe to call on every start and from several
 * instances at once (PostgreSQL serialises them with an advisory lock). Returns the names it applied.
 */
export async function migrateToLatest(db: Kysely<any>, engine: Engine): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider(engine) });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error === undefined) return results.map((r) => r.migrationName);
  const failed = results.find((r) => r.status === "Error")?.migrationName;
  const reason = error instanceof Error ? error.message : String(error);
  const where = failed === undefined ? "before any migration ran" : `in migration ${failed}`;
  throw new RelayError("ERR_MIGRATION", `Database migration failed ${where} (${engine}): ${reason}`, {
    cause: error,
  });
}
