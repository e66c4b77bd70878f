// The backup and restore procedures of docs/operations.md, run as written: pg_dump/pg_restore of a PostgreSQL
// relay's database, and sqlite3's online `.backup` of a running SQLite relay. A restored database opens with the key
// of its time, and only with that key.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { realpathSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { findPostgresBinDir } from "../../scripts/postgres-cluster.mjs";
import { systemClock } from "../../src/core/clock.ts";
import { readEncryptionKeyFile } from "../../src/storage/encryption-key.ts";
import { openDatabase } from "../../src/storage/open-database.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { openTestDatabase, postgresTestUrl, type TestDatabase } from "../helpers/databases.ts";
import { httpRequest } from "../helpers/http-request.ts";
import { freePort } from "../helpers/relay-setup.ts";
import { spawnRelayProcess, type RelayProcess } from "../helpers/relay-process.ts";

let dir: string;
let source: TestDatabase;
const started: RelayProcess[] = [];

async function startRelay(env: Record<string, string>): Promise<RelayProcess & { adminToken: string }> {
  const port = await freePort();
  const adminToken = randomBytes(32).toString("base64url");
  const relay = spawnRelayProcess(
    {
      RELAY_PUBLIC_URL: `http://127.0.0.1:${port}`,
      RELAY_ADMIN_TOKEN: adminToken,
      RELAY_LOG_LEVEL: "warn",
      ...env,
    },
    port,
  );
  started.push(relay);
  return Object.assign(relay, { adminToken });
}

async function stop(relay: RelayProcess): Promise<void> {
  relay.child.kill("SIGTERM");
  assert.deepEqual(await relay.exited, { code: 0, signal: null });
}

async function createOrg(relay: RelayProcess & { adminToken: string }, secret: string): Promise<string> {
  const headers = { authorization: `Bearer ${relay.adminToken}` };
  const created = await httpRequest(`${relay.url}/api/orgs`, {
    method: "POST",
    headers,
    body: { name: "Contoso" },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json().id as string;
  const patched = await httpRequest(`${relay.url}/api/orgs/${id}`, {
    method: "PATCH",
    headers,
    body: { clientSecret: secret },
  });
  assert.equal(patched.status, 200, patched.text);
  return id;
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: "utf8", env: { PATH: process.env.PATH, LC_ALL: "C" } });
  assert.equal(result.status, 0, `${command} ${args[0]}: ${result.stderr}${result.error ?? ""}`);
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "relay-backup-"));
  source = await openTestDatabase("postgres", { migrate: false });
});
after(async () => {
  for (const relay of started) relay.child.kill("SIGKILL");
  await Promise.all(started.map((r) => r.exited));
  await source.close();
  await rm(dir, { recursive: true, force: true });
});

test("pg_dump while the relay runs, pg_restore into an empty database: the relay starts on it with the same key", async (t) => {
  const key = randomBytes(32).toString("base64");
  const relay = await startRelay({
    RELAY_DATABASE_URL: source.location,
    RELAY_DATA_DIR: await mkdtemp(path.join(dir, "pg-")),
    RELAY_ENCRYPTION_KEY: key,
  });
  await relay.ready();
  const orgId = await createOrg(relay, "pg-client-secret");
  // The client tools sit beside the server's (PATH may hold links to initdb and pg_ctl only).
  const bin = path.dirname(realpathSync(path.join(findPostgresBinDir()!, "initdb")));
  const dump = path.join(dir, "relay.dump");
  run(path.join(bin, "pg_dump"), ["--format=custom", `--file=${dump}`, source.location]);
  await stop(relay);

  const name = `relay_restored_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: postgresTestUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  t.after(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });
  const restoredUrl = new URL(source.location);
  restoredUrl.pathname = `/${name}`;
  run(path.join(bin, "pg_restore"), ["--no-owner", `--dbname=${restoredUrl}`, dump]);

  const wrongKey = await startRelay({
    RELAY_DATABASE_URL: restoredUrl.toString(),
    RELAY_DATA_DIR: await mkdtemp(path.join(dir, "pg-")),
    RELAY_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
  });
  assert.deepEqual(await wrongKey.exited, { code: 78, signal: null }, "a restore needs the key of its time");
  const restored = await startRelay({
    RELAY_DATABASE_URL: restoredUrl.toString(),
    RELAY_DATA_DIR: await mkdtemp(path.join(dir, "pg-")),
    RELAY_ENCRYPTION_KEY: key,
  });
  await restored.ready();
  await stop(restored);
  const storage = await openDatabase({ engine: "postgres", url: restoredUrl.toString() });
  try {
    const orgs = new OrgStore(storage.db, createSecretBox(Buffer.from(key, "base64")), systemClock);
    assert.equal(await orgs.readClientSecret(orgId), "pg-client-secret");
  } finally {
    await storage.close();
  }
});

test("sqlite3 .backup of a running relay, restored with the key file, starts and opens its secrets", async (t) => {
  const probe = spawnSync("sqlite3", ["-version"], { encoding: "utf8" });
  if (probe.status !== 0) return t.skip("the sqlite3 command-line shell is not installed");
  const dataDir = await mkdtemp(path.join(dir, "sqlite-"));
  const relay = await startRelay({ RELAY_DATA_DIR: dataDir });
  await relay.ready();
  const orgId = await createOrg(relay, "sqlite-client-secret");
  const backup = path.join(dir, "relay-backup.db");
  run("sqlite3", [path.join(dataDir, "relay.db"), `.backup '${backup}'`]);
  await stop(relay);

  const restoredDir = path.join(dir, "restored");
  await mkdir(restoredDir, { mode: 0o700 });
  await copyFile(backup, path.join(restoredDir, "relay.db"));
  await copyFile(path.join(dataDir, "encryption.key"), path.join(restoredDir, "encryption.key"));
  const restored = await startRelay({ RELAY_DATA_DIR: restoredDir });
  await restored.ready();
  const status = await httpRequest(`${restored.url}/api/orgs/${orgId}`, {
    headers: { authorization: `Bearer ${restored.adminToken}` },
  });
  assert.equal(status.status, 200, status.text);
  await stop(restored);
  const storage = await openDatabase({ engine: "sqlite", file: path.join(restoredDir, "relay.db") });
  try {
    const key = await readEncryptionKeyFile(restoredDir);
    assert.equal(
      await new OrgStore(storage.db, createSecretBox(key!), systemClock).readClientSecret(orgId),
      "sqlite-client-secret",
    );
  } finally {
    await storage.close();
  }
});
