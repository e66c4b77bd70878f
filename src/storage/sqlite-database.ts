import { existsSync, chmodSync, mkdirSync } from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteAdapter, SqliteDialect } from "kysely";
import { RelayError } from "../core/errors.ts";
import type { Database } from "./schema.ts";

// Kysely's SQLite adapter claims no transactional DDL, so its Migrator would run SQLite migrations outside a
// transaction and a failure halfway would leave a half-migrated file. SQLite does support transactional DDL.
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class RelaySqliteDialect extends SqliteDialect {
  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

export function openSqliteDatabase(file: string): Kysely<Database> {
  let sqlite: BetterSqlite3.Database;
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const created = !existsSync(file);
    sqlite = new BetterSqlite3(file);
    // Tokens and secrets are stored (encrypted) here; -wal and -shm files inherit these permissions.
    if (created) chmodSync(file, 0o600);
  } catch (error) {
    throw new RelayError(
      "ERR_STORAGE_UNAVAILABLE",
      `Cannot open SQLite database ${file}: ${message(error)}`,
      {
        cause: error,
      },
    );
  }
  try {
    const mode = sqlite.pragma("journal_mode = WAL", { simple: true });
    if (mode !== "wal") throw new Error(`journal_mode is ${String(mode)}, WAL is required`);
    // FULL: an acknowledged notification must survive power loss, not only a process crash.
    sqlite.pragma("synchronous = FULL");
    sqlite.pragma("busy_timeout = 5000");
    sqlite.pragma("foreign_keys = ON");
  } catch (error) {
    sqlite.close();
    throw new RelayError(
      "ERR_STORAGE_UNAVAILABLE",
      `Cannot configure SQLite database ${file}: ${message(error)}`,
      {
        cause: error,
      },
    );
  }
  return new Kysely<Database>({ dialect: new RelaySqliteDialect({ database: sqlite }) });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
