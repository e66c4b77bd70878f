import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { describe, it } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import { RelayError } from "../../src/core/errors.ts";
import { migrateToLatest } from "../../src/storage/migrate.ts";
import { migrationProvider } from "../../src/storage/migrations/index.ts";
import { openDatabase } from "../../src/storage/open-database.ts";
import { OperationalEventStore } from "../../src/storage/operational-event-store.ts";
import type { Engine } from "../../src/storage/schema.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { forEachEngine, openTestDatabase, postgresTestUrl } from "../helpers/databases.ts";

const ALL_TABLES = [
  "ack_tokens",
  "alert_channels",
  "alert_deliveries",
  "alert_policies",
  "alert_templates",
  "alert_throttle",
  "delivery_attempts",
  "detection_rules",
  "drill_captures",
  "drills",
  "emergencies",
  "emergency_events",
  "encryption_certificates",
  "inbox",
  "jobs",
  "kv",
  "leases",
  "ms_connections",
  "ms_token_caches",
  "oauth_pending",
  "operational_events",
  "orgs",
  "poll_watermarks",
  "seen_messages",
  "subscriptions",
  "validation_tokens",
  "web_accounts",
  "web_audit_log",
  "web_login_throttle",
  "web_sessions",
];
// Every migration the app ships, in the order they run; the first ones are named so a lost one shows.
const ALL_MIGRATIONS = Object.keys(await migrationProvider("sqlite").getMigrations()).sort();
assert.deepEqual(ALL_MIGRATIONS.slice(0, 4), [
  "0001-foundation",
  "0002-connections",
  "0003-intake",
  "0004-notification-mode",
]);
const T0 = Date.parse("2026-11-27T09:00:00.000Z");

async function tableNames(database: { db: { introspection: { getTables(): Promise<{ name: string }[]> } } }) {
  const tables = await database.db.introspection.getTables();
  return tables
    .map((t) => t.name)
    .filter((n) => !n.startsWith("kysely_"))
    .sort();
}

function isUniqueViolation(engine: Engine) {
  return (error: unknown) => {
    const code = (error as { code?: string }).code;
    return engine === "postgres" ? code === "23505" : code === "SQLITE_CONSTRAINT_UNIQUE";
  };
}

function job(id: string, dedupeKey: string | null) {
  return {
    id,
    kind: "renew-subscription",
    org_id: null,
    dedupe_key: dedupeKey,
    run_at: T0,
    max_attempts: 5,
    created_at: T0,
  };
}

forEachEngine("storage", (engine) => {
  it("migrates an empty database, and a second run changes nothing", async (t) => {
    const database = await openTestDatabase(engine, { migrate: false });
    t.after(() => database.close());
    assert.deepEqual(await tableNames(database), []);

    assert.deepEqual(await migrateToLatest(database.db, engine), ALL_MIGRATIONS);
    assert.deepEqual(await tableNames(database), ALL_TABLES);

    assert.deepEqual(await migrateToLatest(database.db, engine), []);
    assert.deepEqual(await tableNames(database), ALL_TABLES);
  });

  it("rolls a failed migration back completely and names it", async (t) => {
    const database = await openTestDatabase(engine, { migrate: false });
    t.after(() => database.close());
    // `kv` is created last, so the tables before it exist when the migration fails.
    await database.db.schema.createTable("kv").addColumn("key", "text").execute();

    await assert.rejects(migrateToLatest(database.db, engine), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.equal(error.code, "ERR_MIGRATION");
      assert.match(error.message, /0001-foundation/);
      return true;
    });
    assert.deepEqual(await tableNames(database), ["kv"]);
  });

  it("round-trips an org with epoch-ms times as JS numbers", async (t) => {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    const org = {
      id: "org_1",
      name: "Contoso",
      tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47",
      client_id: "11111111-2222-3333-4444-555555555555",
      client_secret_ciphertext: "v1.iv.ciphertext.tag",
      client_secret_expires_at: Date.parse("2027-05-27T09:00:00.000Z"),
      webhook_base_url: "https://relay.example.com",
      expected_service_user_upn: "relay@contoso.example",
      secret_expiry_warned_days: null,
      notification_mode: "rich",
      created_at: T0,
      updated_at: T0 + 1,
    };
    await database.db.insertInto("orgs").values(org).execute();
    await database.db
      .insertInto("orgs")
      .values({ id: "org_2", name: "Fabrikam", created_at: T0, updated_at: T0 })
      .execute();

    assert.deepEqual(
      await database.db.selectFrom("orgs").selectAll().where("id", "=", "org_1").executeTakeFirst(),
      org,
    );
    const bare = await database.db
      .selectFrom("orgs")
      .selectAll()
      .where("id", "=", "org_2")
      .executeTakeFirstOrThrow();
    assert.equal(bare.tenant_id, null);
    assert.equal(bare.client_secret_expires_at, null);
    const { n } = await database.db
      .selectFrom("orgs")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    assert.equal(n, 2);
  });

  it("appends operational events and lists them newest first", async (t) => {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    await database.db
      .insertInto("orgs")
      .values({ id: "org_1", name: "Contoso", created_at: T0, updated_at: T0 })
      .execute();
    const clock = new FakeClock(T0);
    const store = new OperationalEventStore(database.db, clock);

    const revoked = await store.append({
      orgId: "org_1",
      kind: "token.revoked",
      severity: "critical",
      message: "Refresh token revoked (AADSTS50173)",
      details: { aadsts: 50173, nested: { retry: false } },
    });
    clock.advance(1_000);
    const started = await store.append({ kind: "relay.started", severity: "info", message: "Relay started" });
    clock.advance(1_000);
    const renewed = await store.append({
      orgId: "org_1",
      kind: "subscription.renewed",
      severity: "info",
      message: "ok",
    });

    assert.deepEqual(await store.listRecent({ limit: 10 }), [renewed, started, revoked]);
    assert.deepEqual(await store.listRecent({ orgId: "org_1", limit: 10 }), [renewed, revoked]);
    assert.deepEqual(await store.listRecent({ limit: 1 }), [renewed]);
    assert.equal(revoked.createdAt, T0);
    assert.deepEqual(revoked.details, { aadsts: 50173, nested: { retry: false } });
    assert.equal(started.orgId, null);
    await assert.rejects(store.listRecent({ limit: 0 }), { code: "ERR_VALIDATION" });
  });

  it("enforces foreign keys", async (t) => {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    const store = new OperationalEventStore(database.db, new FakeClock(T0));
    await assert.rejects(store.append({ orgId: "no_such_org", kind: "x", severity: "info", message: "x" }));
  });

  it("rejects a second job with the same dedupe_key but allows many without one", async (t) => {
    const database = await openTestDatabase(engine);
    t.after(() => database.close());
    await database.db.insertInto("jobs").values(job("job_1", "renew:org_1")).execute();
    await assert.rejects(
      database.db.insertInto("jobs").values(job("job_2", "renew:org_1")).execute(),
      isUniqueViolation(engine),
    );
    await database.db
      .insertInto("jobs")
      .values([job("job_3", null), job("job_4", null)])
      .execute();
    const rows = await database.db.selectFrom("jobs").select(["id", "attempts"]).orderBy("id").execute();
    assert.deepEqual(rows, [
      { id: "job_1", attempts: 0 },
      { id: "job_3", attempts: 0 },
      { id: "job_4", attempts: 0 },
    ]);
  });
});

describe("storage [sqlite] settings", () => {
  it("opens the file in WAL mode with synchronous=FULL, a busy timeout and foreign keys", async (t) => {
    const database = await openTestDatabase("sqlite");
    t.after(() => database.close());
    const pragma = async (name: string) => {
      const { rows } = await sql<Record<string, unknown>>`${sql.raw(`pragma ${name}`)}`.execute(database.db);
      return Object.values(rows[0] ?? {})[0];
    };
    assert.equal(await pragma("journal_mode"), "wal");
    assert.equal(await pragma("synchronous"), 2);
    assert.equal(await pragma("busy_timeout"), 5000);
    assert.equal(await pragma("foreign_keys"), 1);
    assert.equal(statSync(database.location).mode & 0o777, 0o600);
  });
});

describe("storage [postgres] settings", () => {
  it("lets several instances migrate at once", async (t) => {
    const database = await openTestDatabase("postgres", { migrate: false });
    t.after(() => database.close());
    const others = await Promise.all(
      [1, 2, 3].map(() => openDatabase({ engine: "postgres", url: database.location })),
    );
    t.after(() => Promise.all(others.map((o) => o.close())));
    const applied = await Promise.all(others.map((o) => migrateToLatest(o.db, "postgres")));
    assert.deepEqual(applied.flat(), ALL_MIGRATIONS);
    assert.deepEqual(await tableNames(database), ALL_TABLES);
  });

  it("refuses int8 values a JS number cannot hold instead of rounding them", async (t) => {
    const database = await openTestDatabase("postgres", { migrate: false });
    t.after(() => database.close());
    const { rows } = await sql<{ n: unknown }>`select 9007199254740991::int8 as n`.execute(database.db);
    assert.equal(rows[0]?.n, Number.MAX_SAFE_INTEGER);
    await assert.rejects(sql`select 9007199254740993::int8 as n`.execute(database.db), RangeError);
    // The parser belongs to our pool only: other pg users in the process keep pg's default (strings).
    const plain = new pg.Client({ connectionString: database.location });
    await plain.connect();
    try {
      assert.equal((await plain.query("select 42::int8 as n")).rows[0].n, "42");
    } finally {
      await plain.end();
    }
  });

  it("reports an unreachable server without its password", async () => {
    const url = new URL(postgresTestUrl());
    url.port = "1";
    url.password = "Sup3rS3cretPw";
    await assert.rejects(openDatabase({ engine: "postgres", url: url.toString() }), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.equal(error.code, "ERR_STORAGE_UNAVAILABLE");
      assert.match(error.message, /127\.0\.0\.1:1/);
      assert.ok(!error.message.includes("Sup3rS3cretPw"));
      return true;
    });
  });
});
