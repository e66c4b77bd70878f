import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { Emulator } from "../../emulator/index.ts";
import { startEmulator } from "../helpers/emulator-setup.ts";

const run = promisify(execFile);
const bin = path.resolve(import.meta.dirname, "../../bin/teams-emergency-relay.js");
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "relay-cli-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function cli(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RELAY_")));
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      env: { ...clean, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test("serve refuses to start with one message naming every bad setting, without echoing secrets", async () => {
  const result = await cli(["serve"], {
    RELAY_PORT: "99999",
    RELAY_DATABASE_URL: "mysql://root:hunter2@db/relay",
    RELAY_ADMIN_TOKEN: "short-secret",
    RELAY_LOGIN_BASE_URL: "not a url",
  });
  assert.notEqual(result.code, 0);
  for (const key of [
    "RELAY_PORT",
    "RELAY_DATABASE_URL",
    "RELAY_ADMIN_TOKEN",
    "RELAY_LOGIN_BASE_URL",
    "RELAY_PUBLIC_URL",
  ]) {
    assert.match(result.stderr, new RegExp(key), `${key} named`);
  }
  assert.doesNotMatch(result.stderr, /hunter2|short-secret/);
});

test("migrate creates the SQLite database and is idempotent", async () => {
  const env = { RELAY_DATA_DIR: path.join(dir, "migrate") };
  const first = await cli(["migrate"], env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /applied: 0001/);
  const second = await cli(["migrate"], env);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /up to date/);
});

test("demo wires the emulator and the relay, connects the org through the real flow and prints one JSON line", async () => {
  const dataDir = path.join(dir, "demo");
  const result = await cli([
    "demo",
    "--json",
    "--exit",
    "--port",
    "0",
    "--emulator-port",
    "0",
    "--data-dir",
    dataDir,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split("\n");
  assert.equal(lines.length, 1, result.stdout);
  const summary = JSON.parse(lines[0]!);
  for (const key of [
    "relayUrl",
    "emulatorUrl",
    "caFile",
    "adminToken",
    "orgId",
    "tenantId",
    "serviceUserId",
    "dataDir",
  ]) {
    assert.equal(typeof summary[key], "string", key);
  }
  assert.equal(summary.dataDir, dataDir);
  assert.equal(summary.callerIds.length, 2);
  assert.equal(summary.notifyUserIds.length, 2);
  assert.match(summary.relayUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(summary.emulatorUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
});

test("demo without --json says the org is connected and how to use it", async () => {
  const result = await cli(["demo", "--exit", "--port", "0", "--emulator-port", "0"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Org "Contoso" \(org_[a-z0-9]+\) is connected as emergency-relay@/);
  assert.match(result.stdout, /admin token: +\S{40,}/);
});

test("doctor passes reachable endpoints and names the fix for an unreachable one and for a webhook URL nothing answers", async () => {
  const emu: Emulator = await startEmulator();
  try {
    const caFile = path.join(dir, "emulator-ca.pem");
    await writeFile(caFile, emu.caPem!);
    const env = {
      RELAY_DATA_DIR: path.join(dir, "doctor"),
      RELAY_PUBLIC_URL: "https://relay.example.test",
      RELAY_LOGIN_BASE_URL: emu.url,
      RELAY_GRAPH_BASE_URL: emu.url,
      RELAY_MICROSOFT_CA_FILE: caFile,
    };
    // No relay runs at the public URL: only the handshake fails (test/e2e/doctor.test.ts covers a running relay).
    const good = await cli(["doctor"], env);
    assert.equal(good.code, 1, good.stdout + good.stderr);
    assert.match(good.stdout, /PASS {2}Entra ID sign-in reachable/);
    assert.match(good.stdout, /PASS {2}Microsoft Graph reachable/);
    assert.deepEqual(
      good.stdout
        .split("\n")
        .filter((line) => line.startsWith("FAIL"))
        .map((line) => line.split(":")[0]),
      ["FAIL  webhook handshake https", "FAIL  webhook handshake https"],
    );
    assert.match(good.stdout, /fix: the relay must be running .* reachable at this URL/);

    const bad = await cli(["doctor"], {
      ...env,
      RELAY_GRAPH_BASE_URL: `https://127.0.0.1:${await freePort()}`,
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /FAIL {2}Microsoft Graph reachable/);
    assert.match(bad.stdout, /fix: allow outbound HTTPS/);
  } finally {
    await emu.close();
  }
});
