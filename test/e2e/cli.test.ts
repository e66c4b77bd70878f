import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
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

/** The CLI with `input` on stdin. */
function cliWithInput(
  args: string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RELAY_")));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: clean, timeout: 60_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
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
  // A simulated 911 call went through Graph's emulated webhook, detection and the outbox to the demo's receiver.
  assert.match(summary.receiverUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(summary.emergency.id, /^em_[0-9a-f]{16}$/);
  assert.equal(summary.emergency.state, "open");
  assert.match(summary.emergency.ackUrl, new RegExp(`^${summary.relayUrl}/ack/[A-Za-z0-9_-]{43}$`));
  assert.deepEqual(summary.emergency.deliveries, [
    { channel: "Security desk (demo receiver)", status: "delivered", attempts: 1 },
  ]);
  // The web app's first admin, created on this first start with the data directory, with a password to sign in.
  assert.equal(summary.webApp.url, `${summary.relayUrl}/login`);
  assert.equal(summary.webApp.username, "admin");
  assert.match(summary.webApp.password, /^[A-Za-z0-9_-]{24}$/);
});

test("demo without --json says the org is connected and how to use it", async () => {
  const result = await cli(["demo", "--exit", "--port", "0", "--emulator-port", "0"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Org "Contoso" \(org_[a-z0-9]+\) is connected as emergency-relay@/);
  assert.match(result.stdout, /admin token: +\S{40,}/);
  assert.match(
    result.stdout,
    /web app: +http:\/\/127\.0\.0\.1:\d+\/login +\(sign in as "admin" with \S{24}\)/,
  );
  assert.match(result.stdout, /alert at the demo receiver \/security-desk/);
  assert.match(result.stdout, /EMERGENCY CALL 911: Pat Jones at Building 4, Floor 2/);
  assert.match(result.stdout, /Acknowledge it: open this link in a browser/);
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

test("parse prints the emergency in a Graph chatMessage (exit 0), why a message is not one (exit 3), and refuses bad input (exit 2)", async () => {
  const chatMessage = {
    id: "1764234000000",
    chatId: "19:abc@thread.v2",
    messageType: "message",
    createdDateTime: "2026-11-27T09:00:00.000Z",
    from: { user: { id: "caller-id", displayName: "Pat Caller" } },
    body: {
      contentType: "html",
      content:
        "<p>Pat Caller has placed an Emergency Call</p><p>Dialed: 933</p><p>Location: Lobby<br>1 Main Street</p>",
    },
  };
  const emergency = await cliWithInput(["parse"], JSON.stringify(chatMessage));
  assert.equal(emergency.code, 0, emergency.stderr);
  const printed = JSON.parse(emergency.stdout);
  assert.equal(printed.ruleId, "default");
  assert.deepEqual(printed.caller, { id: "caller-id", displayName: "Pat Caller", userPrincipalName: null });
  assert.equal(printed.dialString, "933");
  assert.equal(printed.isTest, true);
  assert.equal(printed.location.place, "Lobby");
  assert.equal(printed.location.civicAddress, "1 Main Street");
  assert.equal(printed.messageTime, Date.parse("2026-11-27T09:00:00.000Z"));

  const ordinary = await cliWithInput(
    ["parse"],
    JSON.stringify({
      ...chatMessage,
      body: { contentType: "text", content: "did you see who placed an emergency call?" },
    }),
  );
  assert.equal(ordinary.code, 3);
  assert.equal(ordinary.stdout, "");
  assert.match(
    ordinary.stderr,
    /^not an emergency call: the text does not contain "has placed an Emergency Call"/,
  );

  const badJson = await cliWithInput(["parse"], '{"id": "1", body: secret-looking-value}');
  assert.equal(badJson.code, 2);
  assert.match(badJson.stderr, /stdin is not valid JSON/);
  assert.doesNotMatch(badJson.stderr, /secret-looking-value/);
  const notMessage = await cliWithInput(["parse"], "[1, 2]");
  assert.equal(notMessage.code, 2);
  assert.match(notMessage.stderr, /Graph chatMessage/);
  assert.equal((await cliWithInput(["parse", "--nope"], "{}")).code, 2);
  const help = await cliWithInput(["parse", "--help"], "");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit status: 0/);
});

test("parse --rules applies per-org rules from a file, and names every invalid rule", async () => {
  const rules = path.join(dir, "rules.json");
  await writeFile(
    rules,
    JSON.stringify({
      rules: [
        {
          id: "rule_de",
          name: "Deutsch",
          kind: "pattern",
          value: "^Notruf von (?<caller>.+?) an (?<dialString>\\d+)$",
          marksTest: false,
        },
      ],
    }),
  );
  const message = {
    id: "1",
    chatId: "c",
    from: { user: { id: "caller-id", displayName: "Pat Caller" } },
    body: { contentType: "html", content: "<p>Notruf von Pat Caller an 112</p>" },
  };
  const without = await cliWithInput(["parse"], JSON.stringify(message));
  assert.equal(without.code, 3);
  const withRules = await cliWithInput(["parse", "--rules", rules], JSON.stringify(message));
  assert.equal(withRules.code, 0, withRules.stderr);
  const printed = JSON.parse(withRules.stdout);
  assert.deepEqual([printed.ruleId, printed.dialString, printed.caller.id], ["rule_de", "112", "caller-id"]);

  const bad = path.join(dir, "bad-rules.json");
  await writeFile(
    bad,
    JSON.stringify([
      { name: "a", kind: "pattern", value: "(" },
      { name: "", kind: "phrase", value: "ok" },
    ]),
  );
  const refused = await cliWithInput(["parse", "--rules", bad], JSON.stringify(message));
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /rules\[0\]\.value/);
  assert.match(refused.stderr, /rules\[1\]\.name/);
  const missing = await cliWithInput(
    ["parse", "--rules", path.join(dir, "nope.json")],
    JSON.stringify(message),
  );
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read --rules/);
});
