import { existsSync, chmodSync, mkdirSync } from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
} from "kysely";
import { RelayError } from "../core/errors.ts";
import type { Database } from "./schema.ts";

// Kysely's SQLite adapter claims no transactional DDL, so its Migrator would run SQLite migrations outside a
// transaction and a failure halfway would leave a half-migrated file. SQLite does support transactional DDL.
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

// The webhook's inbox inserts run on their own connection in a worker thread (sqlite-inbox-writer.ts). A deferred
// `BEGIN` that reads first and writes later fails with SQLITE_BUSY (no busy wait) when that connection committed in
// between; `BEGIN IMMEDIATE` takes the write lock up front, where busy_timeout does wait.
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

class RelaySqliteDialect extends SqliteDialect {
  readonly #config: { database: SqliteDatabase };

  constructor(config: { database: SqliteDatabase }) {
    super(config);
    this.#config = config;
  }

  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

/**
 * Kysely prepares every query anew; the relay runs the same few hundred statements all day, so keep them.
 * Safe because the relay never streams (an iterating statement could not be reused meanwhile).
 */
function withStatementCache(sqlite: BetterSqlite3.Database, maxStatements = 500): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = sqlite.prepare(sql);
        if (cache.size >= maxStatements) cache.delete(cache.keys().next().value!);
        cache.set(sql, statement);
      }
      return statement;
    },
  } as SqliteDatabase;
}

export function openSqliteDatabase(file: string): Kysely<Database> {
  const sqlite = openSqliteConnection(file);
  return new Kysely<Database>({ dialect: new RelaySqliteDialect({ database: withStatementCache(sqlite) }) });
}

/** One better-sqlite3 connection with the relay's settings (WAL, synchronous=FULL, busy timeout, foreign keys). */
export function openSqliteConnection(file: string): BetterSqlite3.Database {
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
  return sqlite;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
