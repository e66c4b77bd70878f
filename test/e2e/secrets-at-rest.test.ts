import assert from "node:assert/strict";
import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import {
  connectOrg,
  createOrgWithApp,
  seedTenant,
  startTestRelay,
  type TestRelay,
} from "../helpers/relay-setup.ts";

const clock = new FakeClock();
let emu: Emulator;
let relay: TestRelay;

before(async () => {
  // The relay listens on plain http on loopback; real Graph only calls https webhooks.
  emu = await startEmulator({ clock, allowHttpWebhooks: true });
  relay = await startTestRelay(emu, clock);
});
after(async () => {
  await relay.close();
  await emu.close();
});

test("after a connect and refreshes, no token, secret or key is in the SQLite files or the logs", async () => {
  const tenant = await seedTenant(emu);
  const org = await createOrgWithApp(emu, relay, tenant);
  assert.equal((await connectOrg(emu, relay, org.orgId)).status, 200);
  for (let i = 0; i < 3; i++) {
    clock.advance(30 * 60_000);
    assert.equal(
      (await relay.api("POST", `/api/org/${org.orgId}/ms-teams/refresh`)).json().connection.state,
      "connected",
    );
  }
  // A subscription (with its clientState) and a delivered, processed notification are part of the picture too.
  await relay.relay.scheduler.runDue();
  const subscription = [...emu.state.subscriptions.values()].find(
    (s) => s.tenantId === tenant.tenantId && !s.removed,
  );
  assert.ok(subscription?.clientState, "subscription created with a clientState");
  await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/emergency-calls`, {
    callerId: tenant.otherUser.id,
    dialString: "933",
    notify: [tenant.serviceUser.id],
    location: { kind: "unknown" },
  });
  await emu.settle();
  await relay.relay.intake.processInbox();
  assert.equal(
    (await relay.api("GET", `/api/org/${org.orgId}/ms-teams/status`)).json().messagesReceived.notification,
    1,
  );

  const keyFile = path.join(relay.dataDir, "encryption.key");
  assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
  const keyText = (await readFile(keyFile, "utf8")).trim();

  const secrets: [string, string][] = [
    ["client secret", org.clientSecret],
    ["admin token", relay.adminToken],
    ["subscription clientState", subscription.clientState],
    ["encryption key (as stored)", keyText],
    ["encryption key (hex)", Buffer.from(keyText, "base64").toString("hex")],
  ];
  for (const t of emu.state.accessTokens.filter((a) => a.clientId === org.clientId))
    secrets.push(["access token", t.token]);
  for (const r of emu.state.refreshTokens.values())
    if (r.clientId === org.clientId) secrets.push(["refresh token", r.token]);
  for (const c of emu.state.authCodes.values())
    if (c.clientId === org.clientId) secrets.push(["authorization code", c.code]);
  assert.ok(secrets.filter(([kind]) => kind === "refresh token").length >= 4, "connect plus three rotations");

  // SQLite in WAL mode keeps recent pages in relay.db-wal: read every file of the database.
  const files = (await readdir(relay.dataDir)).filter((f) => f.startsWith("relay.db"));
  assert.ok(files.includes("relay.db"));
  const haystacks: [string, string][] = [];
  for (const f of files)
    haystacks.push([f, (await readFile(path.join(relay.dataDir, f))).toString("latin1")]);
  haystacks.push(["logs", relay.logs.join("")]);
  assert.ok(relay.logs.length > 10, "the relay logged requests and events");

  for (const [where, text] of haystacks) {
    for (const [kind, value] of secrets) {
      assert.ok(!text.includes(value), `${kind} found in ${where}`);
    }
  }
  // The envelope format is what is stored instead (checked without printing binary pages on failure).
  const database = haystacks
    .filter(([f]) => f.startsWith("relay.db"))
    .map(([, text]) => text)
    .join("");
  assert.ok(/v1\.[0-9a-f]{8}\./.test(database), "sealed envelopes are stored");
});
