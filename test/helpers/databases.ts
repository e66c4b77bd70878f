import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe } from "node:test";
import pg from "pg";
import { migrateToLatest } from "../../src/storage/migrate.ts";
import { openDatabase, type OpenedDatabase } from "../../src/storage/open-database.ts";
import type { Engine } from "../../src/storage/schema.ts";

export const ENGINES: readonly Engine[] = ["sqlite", "postgres"];

export interface TestDatabase extends OpenedDatabase {
  /** SQLite file path or PostgreSQL URL (with password), for opening a second handle on the same data. */
  location: string;
}

/** Declares the suite once per engine, as `name [sqlite]` and `name [postgres]`. */
export function forEachEngine(name: string, body: (engine: Engine) => void): void {
  for (const engine of ENGINES) describe(`${name} [${engine}]`, () => body(engine));
}

/**
 * A database nobody else uses: a new SQLite file in a new temp directory, or a new PostgreSQL database in the
 * cluster `npm test` started. Migrated unless `migrate: false`. `close()` deletes it.
 */
export async function openTestDatabase(
  engine: Engine,
  options: { migrate?: boolean } = {},
): Promise<TestDatabase> {
  const fresh = engine === "sqlite" ? await freshSqlite() : await freshPostgres();
  let opened: OpenedDatabase;
  try {
    opened = await openDatabase(
      engine === "sqlite" ? { engine, file: fresh.location } : { engine, url: fresh.location, poolMax: 4 },
    );
    if (options.migrate ?? true) await migrateToLatest(opened.db, engine);
  } catch (error) {
    await fresh.remove();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    ...opened,
    location: fresh.location,
    close: () => (closing ??= opened.close().finally(fresh.remove)),
  };
}

async function freshSqlite(): Promise<{ location: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), "relay-test-sqlite-"));
  return {
    location: path.join(dir, "relay.db"),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

async function freshPostgres(): Promise<{ location: string; remove: () => Promise<void> }> {
  const name = `relay_t_${randomBytes(6).toString("hex")}`;
  await asAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(postgresTestUrl());
  url.pathname = `/${name}`;
  return {
    location: url.toString(),
    remove: () =>
      asAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

export function postgresTestUrl(): string {
  const url = process.env.RELAY_TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      "RELAY_TEST_DATABASE_URL is not set: run tests through `npm test`, which starts PostgreSQL",
    );
  }
  return url;
}

async function asAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresTestUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
