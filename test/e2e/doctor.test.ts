import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { createServer } from "node:http";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { Emulator } from "../../emulator/index.ts";
import { checkHandshake } from "../../src/doctor.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import {
  connectOrg,
  createOrgWithApp,
  seedTenant,
  startTestRelay,
  type TestRelay,
} from "../helpers/relay-setup.ts";

const run = promisify(execFile);
const bin = path.resolve(import.meta.dirname, "../../bin/teams-emergency-relay.js");
// The doctor judges expiries against the real clock: keep the relay's clock on it.
const clock = new FakeClock(Date.now());
let emu: Emulator;
let relay: TestRelay;
let orgId: string;
let relayStopped = false;

async function doctor(env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RELAY_")));
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, "doctor"], {
      env: { ...clean, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

before(async () => {
  // Plain http on loopback: real Graph only calls https webhooks.
  emu = await startEmulator({ clock, allowHttpWebhooks: true });
  relay = await startTestRelay(emu, clock);
  const tenant = await seedTenant(emu);
  ({ orgId } = await createOrgWithApp(emu, relay, tenant));
  assert.equal((await connectOrg(emu, relay, orgId)).status, 200);
  await relay.relay.scheduler.runDue();
});
after(async () => {
  if (relayStopped) await rm(relay.dataDir, { recursive: true, force: true });
  else await relay.close();
  await emu.close();
});

test("doctor passes every check against a running relay with a connected org", async () => {
  const result = await doctor(relay.env);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.doesNotMatch(result.stdout, /^(FAIL|WARN)/m, result.stdout);
  for (const url of [`${relay.url}/api/graph/notifications`, `${relay.url}/api/graph/lifecycle`]) {
    assert.match(
      result.stdout,
      new RegExp(`^PASS {2}webhook handshake ${url}: answered 200 text/plain`, "m"),
    );
  }
  assert.match(result.stdout, new RegExp(`^PASS {2}org "Contoso" \\(${orgId}\\) connection: connected`, "m"));
  assert.match(
    result.stdout,
    new RegExp(`^PASS {2}org "Contoso" \\(${orgId}\\) client secret: expires`, "m"),
  );
  assert.match(
    result.stdout,
    new RegExp(`^PASS {2}org "Contoso" \\(${orgId}\\) subscription: .* h left`, "m"),
  );
});

test("an org whose grant was revoked (needs_reauth) fails naming the org, the error and the fix", async () => {
  await control(emu, "POST", "/_emulator/faults", { target: "token", kind: "aadsts", aadsts: 50173 });
  const refreshed = await relay.api("POST", `/api/org/${orgId}/ms-teams/refresh`);
  assert.equal(refreshed.json().connection.state, "needs_reauth", refreshed.text);
  const result = await doctor(relay.env);
  assert.equal(result.code, 1, result.stdout);
  assert.match(
    result.stdout,
    new RegExp(`^FAIL {2}org "Contoso" \\(${orgId}\\) connection: needs_reauth: .*AADSTS50173`, "m"),
  );
  assert.match(
    result.stdout,
    new RegExp(`fix: an admin reconnects it: GET /api/org/${orgId}/ms-teams/connect`),
  );
});

test("with the relay stopped, the handshake check fails and says the relay must be running and reachable", async () => {
  await relay.relay.close();
  relayStopped = true;
  const result = await doctor(relay.env);
  assert.equal(result.code, 1, result.stdout);
  assert.match(
    result.stdout,
    new RegExp(`^FAIL {2}webhook handshake ${relay.url}/api/graph/notifications: no answer: `, "m"),
  );
  assert.match(result.stdout, /fix: the relay must be running .* reachable at this URL/);
});

test("a webhook URL that answers the handshake wrongly fails with the exact mismatch", async () => {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ url: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as { port: number };
    const check = await checkHandshake(`http://127.0.0.1:${port}/api/graph/notifications`);
    assert.equal(check.status, "fail");
    assert.match(check.detail, /content-type "application\/json" \(expected text\/plain\)/);
    assert.match(check.detail, /body ".*" \(expected "Validation: doctor /);
    assert.doesNotMatch(check.detail, /status/);
    assert.match(check.fix!, /reverse proxy/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
