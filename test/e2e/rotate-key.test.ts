// `teams-emergency-relay rotate-key` as an operator runs it: against the data directory's key file on SQLite (the
// file is replaced, the old key kept beside it), and refused on PostgreSQL while an instance is still running.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { systemClock } from "../../src/core/clock.ts";
import { openDatabase } from "../../src/storage/open-database.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox, secretKeyId } from "../../src/storage/secret-box.ts";
import { openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { httpRequest } from "../helpers/http-request.ts";
import { freePort } from "../helpers/relay-setup.ts";
import { spawnRelayProcess } from "../helpers/relay-process.ts";

const bin = path.resolve(import.meta.dirname, "../../bin/teams-emergency-relay.js");
let dir: string;
let pgDatabase: TestDatabase;

function cli(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

async function createOrgWithSecret(url: string, adminToken: string, secret: string): Promise<string> {
  const headers = { authorization: `Bearer ${adminToken}` };
  const org = await httpRequest(`${url}/api/orgs`, { method: "POST", headers, body: { name: "Contoso" } });
  assert.equal(org.status, 201, org.text);
  const id = org.json().id as string;
  const patched = await httpRequest(`${url}/api/orgs/${id}`, {
    method: "PATCH",
    headers,
    body: { tenantId: randomUUIDish(), clientId: randomUUIDish(), clientSecret: secret },
  });
  assert.equal(patched.status, 200, patched.text);
  return id;
}

function randomUUIDish(): string {
  const h = randomBytes(16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20)}`;
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "relay-rotate-"));
  pgDatabase = await openTestDatabase("postgres", { migrate: false });
});
after(async () => {
  await pgDatabase.close();
  await rm(dir, { recursive: true, force: true });
});

test("rotate-key re-seals a SQLite relay's secrets and replaces its key file, keeping the old key beside it", async () => {
  const dataDir = await mkdtemp(path.join(dir, "sqlite-"));
  const port = await freePort();
  const adminToken = randomBytes(32).toString("base64url");
  const env = { RELAY_DATA_DIR: dataDir, RELAY_LOG_LEVEL: "warn" };
  const relay = spawnRelayProcess(
    { ...env, RELAY_PUBLIC_URL: `http://127.0.0.1:${port}`, RELAY_ADMIN_TOKEN: adminToken },
    port,
  );
  await relay.ready();
  const orgId = await createOrgWithSecret(relay.url, adminToken, "the-client-secret");
  relay.child.kill("SIGTERM");
  assert.deepEqual(await relay.exited, { code: 0, signal: null });

  const oldKeyText = (await readFile(path.join(dataDir, "encryption.key"), "utf8")).trim();
  const oldKey = Buffer.from(oldKeyText, "base64");
  const newKey = randomBytes(32);
  const newKeyFile = path.join(dir, "new.key");
  await writeFile(newKeyFile, `${newKey.toString("hex")}\n`, { mode: 0o600 });
  const rotated = await cli(["rotate-key", "--new-key-file", newKeyFile], env);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(
    rotated.stdout,
    new RegExp(`re-sealed with key ${secretKeyId(newKey)} \\(was ${secretKeyId(oldKey)}\\)`),
  );
  assert.match(rotated.stdout, /orgs\.client_secret_ciphertext: 1/);
  for (const secret of [oldKeyText, newKey.toString("hex"), newKey.toString("base64")])
    assert.ok(!rotated.stdout.includes(secret) && !rotated.stderr.includes(secret), "no key printed");
  const keyFile = Buffer.from(
    (await readFile(path.join(dataDir, "encryption.key"), "utf8")).trim(),
    "base64",
  );
  assert.ok(keyFile.equals(newKey), "encryption.key holds the new key");
  const retired = (
    await readFile(path.join(dataDir, `encryption.key.retired-${secretKeyId(oldKey)}`), "utf8")
  ).trim();
  assert.equal(retired, oldKeyText, "the old key is kept for older backups");

  // The relay starts with the new key file, and the secret opens with the new key only.
  const restarted = spawnRelayProcess(
    { ...env, RELAY_PUBLIC_URL: `http://127.0.0.1:${port}`, RELAY_ADMIN_TOKEN: adminToken },
    port,
  );
  await restarted.ready();
  restarted.child.kill("SIGTERM");
  await restarted.exited;
  const storage = await openDatabase({ engine: "sqlite", file: path.join(dataDir, "relay.db") });
  try {
    assert.equal(
      await new OrgStore(storage.db, createSecretBox(newKey), systemClock).readClientSecret(orgId),
      "the-client-secret",
    );
    await assert.rejects(
      new OrgStore(storage.db, createSecretBox(oldKey), systemClock).readClientSecret(orgId),
    );
  } finally {
    await storage.close();
  }
  // Rotating from a key that is no longer the database's is refused.
  const stale = await cli(["rotate-key", "--new-key-file", newKeyFile], {
    ...env,
    RELAY_ENCRYPTION_KEY: oldKey.toString("hex"),
  });
  assert.equal(stale.code, 78);
  assert.match(stale.stderr, /does not match this database/);
});

test("rotate-key refuses while an instance still uses the PostgreSQL database, and changes nothing", async () => {
  const port = await freePort();
  const adminToken = randomBytes(32).toString("base64url");
  const key = randomBytes(32).toString("hex");
  const env = {
    RELAY_DATA_DIR: await mkdtemp(path.join(dir, "pg-")),
    RELAY_DATABASE_URL: pgDatabase.location,
    RELAY_ENCRYPTION_KEY: key,
    RELAY_LOG_LEVEL: "warn",
  };
  const relay = spawnRelayProcess(
    { ...env, RELAY_PUBLIC_URL: `http://127.0.0.1:${port}`, RELAY_ADMIN_TOKEN: adminToken },
    port,
  );
  try {
    await relay.ready();
    await createOrgWithSecret(relay.url, adminToken, "pg-secret");
    const newKeyFile = path.join(dir, "pg-new.key");
    await writeFile(newKeyFile, randomBytes(32).toString("base64"), { mode: 0o600 });
    const refused = await cli(["rotate-key", "--new-key-file", newKeyFile], env);
    assert.equal(refused.code, 78);
    assert.match(
      refused.stderr,
      /other relay connection\(s\) to this database are open: stop every instance/,
    );
    // Still running, still sealed with the old key.
    assert.equal((await httpRequest(`${relay.url}/readyz`)).status, 200);
  } finally {
    relay.child.kill("SIGTERM");
    await relay.exited;
  }
  const storage = await openDatabase({ engine: "postgres", url: pgDatabase.location });
  try {
    const orgId = (await storage.db.selectFrom("orgs").select("id").executeTakeFirstOrThrow()).id;
    assert.equal(
      await new OrgStore(storage.db, createSecretBox(Buffer.from(key, "hex")), systemClock).readClientSecret(
        orgId,
      ),
      "pg-secret",
    );
  } finally {
    await storage.close();
  }
});
