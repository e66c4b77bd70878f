// Issue 7: SIGTERM on one of two relay processes sharing a PostgreSQL database. The request it is serving finishes
// (an OAuth callback waiting on a slow Entra), the alert sends it has in flight finish, the alerts it had claimed
// but not started go to the other instance at once (the lease is two minutes), and it leaves no claim behind.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import type { Emulator } from "../../emulator/index.ts";
import { startHttpReceiver, type HttpReceiver } from "../helpers/channel-receivers.ts";
import { openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { httpRequest } from "../helpers/http-request.ts";
import { freePort, seedTenant } from "../helpers/relay-setup.ts";
import { spawnRelayProcess, waitFor, type RelayProcess } from "../helpers/relay-process.ts";
import { startRoundRobinProxy, type RoundRobinProxy } from "../helpers/round-robin-proxy.ts";
import { probeTokenRequests, type TokenRequestProbe } from "../helpers/token-request-probe.ts";

const CHANNELS = 12;
const SEND_MS = 1500;
let db: TestDatabase;
let emu: Emulator;
let tokens: TokenRequestProbe;
let receiver: HttpReceiver;
let proxy: RoundRobinProxy;
let dir: string;
const ports: number[] = [];
const instances: RelayProcess[] = [];
const adminToken = randomBytes(32).toString("base64url");
const encryptionKey = randomBytes(32).toString("base64");

function start(index: number): RelayProcess {
  instances[index] = spawnRelayProcess(
    {
      RELAY_DATABASE_URL: db.location,
      RELAY_DATA_DIR: path.join(dir, `instance-${index}`),
      RELAY_PUBLIC_URL: proxy.url,
      RELAY_ADMIN_TOKEN: adminToken,
      RELAY_ENCRYPTION_KEY: encryptionKey,
      RELAY_LOGIN_BASE_URL: emu.url,
      RELAY_GRAPH_BASE_URL: emu.url,
      RELAY_JWKS_URL: `${emu.url}/common/discovery/v2.0/keys`,
      RELAY_MICROSOFT_CA_FILE: path.join(dir, "emulator-ca.pem"),
      RELAY_ALLOW_PRIVATE_TARGETS: "true",
      RELAY_LOG_LEVEL: "warn",
      // Long leases: whatever the stopping instance held must come back through release, not expiry.
      RELAY_WORK_LEASE_SECONDS: "120",
      RELAY_CHANNEL_TIMEOUT_MS: "5000",
    },
    ports[index]!,
  );
  return instances[index]!;
}

async function api(method: string, p: string, body?: object) {
  const res = await httpRequest(`${proxy.url}${p}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}` },
    ...(body ? { body } : {}),
  });
  if (res.status >= 400) throw new Error(`${method} ${p} -> ${res.status} ${res.text}`);
  return res.text ? res.json() : undefined;
}

/** What a process still holds in the database, by its lease owner id (`host:pid:random`). */
async function claimsOf(pid: number) {
  const like = `%:${pid}:%`;
  const count = async (query: ReturnType<typeof sql<{ n: number }>>) =>
    Number((await query.execute(db.db)).rows[0]!.n);
  return {
    jobs: await count(sql`select count(*)::int as n from jobs where locked_by like ${like}`),
    inbox: await count(sql`select count(*)::int as n from inbox where locked_by like ${like}`),
    alerts: await count(sql`select count(*)::int as n from alert_deliveries where locked_by like ${like}`),
    leases: await count(sql`select count(*)::int as n from leases where owner like ${like}`),
  };
}

before(async () => {
  db = await openTestDatabase("postgres", { migrate: false });
  dir = await mkdtemp(path.join(tmpdir(), "relay-sigterm-"));
  emu = await startEmulator({ allowHttpWebhooks: true, retryBaseMs: 250, retryMaxDelayMs: 2000 });
  tokens = probeTokenRequests(emu);
  await writeFile(path.join(dir, "emulator-ca.pem"), emu.caPem!);
  receiver = await startHttpReceiver();
  proxy = await startRoundRobinProxy();
  for (let i = 0; i < 2; i++) {
    ports.push(await freePort());
    await mkdir(path.join(dir, `instance-${i}`));
  }
  proxy.upstreams = ports.map((p) => `http://127.0.0.1:${p}`);
  await Promise.all([start(0).ready(), start(1).ready()]);
});
after(async () => {
  for (const relay of instances) relay?.child.kill("SIGKILL");
  await Promise.all(instances.map((r) => r?.exited));
  tokens?.close();
  await proxy?.close();
  await receiver?.close();
  await emu?.close();
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

test("SIGTERM drains the request in flight, finishes its sends, hands claimed alerts over at once and leaves no claim", async () => {
  const tenant = await seedTenant(emu);
  const org = await api("POST", "/api/orgs", { name: "Contoso" });
  const app = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/apps`, {
    displayName: "Relay",
    redirectUris: [org.redirectUri],
  });
  await api("PATCH", `/api/orgs/${org.id}`, {
    tenantId: tenant.tenantId,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
  });
  const channelIds: string[] = [];
  for (let i = 0; i < CHANNELS; i++) {
    const channel = await api("POST", `/api/org/${org.id}/channels`, {
      type: "webhook",
      name: `Desk ${i}`,
      url: `${receiver.url}/desk/${i}`,
    });
    channelIds.push(channel.id);
  }
  await api("POST", `/api/org/${org.id}/policies`, {
    name: "Desk",
    callType: "any",
    tiers: [{ channelIds }],
  });

  // 1. The OAuth callback is in flight on instance 0 (Entra answers in 2 s) when it gets SIGTERM: it completes.
  const connect = await httpRequest(
    `${proxy.url}/api/org/${org.id}/ms-teams/connect?login_hint=${encodeURIComponent(tenant.serviceUser.userPrincipalName)}`,
    { headers: { authorization: `Bearer ${adminToken}` } },
  );
  const signIn = await httpRequest(String(connect.headers.location), { ca: emu.caPem });
  const callback = new URL(String(signIn.headers.location));
  tokens.delayMs = 2000;
  const before = tokens.requests.length;
  const answer = httpRequest(`${instances[0]!.url}${callback.pathname}${callback.search}`);
  await waitFor("the code redemption at Entra", async () =>
    tokens.requests.length > before ? true : undefined,
  );
  const terminated = Date.now();
  instances[0]!.child.kill("SIGTERM");
  const page = await answer;
  tokens.delayMs = 0;
  assert.equal(page.status, 200, page.text);
  assert.match(page.text, /Connected/);
  assert.deepEqual(await instances[0]!.exited, { code: 0, signal: null });
  assert.ok(Date.now() - terminated < 10_000, "stopped promptly");
  await start(0).ready();

  // 2. One emergency, twelve channels, a receiver that takes 1.5 s: the instance that raised it sends eight at
  // once and holds four more. SIGTERM it once the first sends arrived.
  await waitFor("subscription", async () =>
    [...emu.state.subscriptions.values()].find((s) => s.tenantId === tenant.tenantId && !s.removed),
  );
  receiver.respond = () => ({ status: 200, delayMs: SEND_MS });
  await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/emergency-calls`, {
    callerId: tenant.otherUser.id,
    dialString: "911",
    notify: [tenant.serviceUser.id],
    location: { kind: "dynamic", place: "Building 4" },
  });
  await receiver.waitForRequests(1, 30_000);
  const holder = (
    await sql<{ owner: string }>`select locked_by as owner from alert_deliveries
      where locked_by is not null limit 1`.execute(db.db)
  ).rows[0]?.owner;
  assert.ok(holder, "the raising instance holds the deliveries");
  const pid = Number(holder.split(":").at(-2));
  const victim = instances.findIndex((r) => r.child.pid === pid);
  assert.notEqual(victim, -1, `owner ${holder} is one of ours`);
  const held = (await claimsOf(pid)).alerts;
  assert.equal(held, CHANNELS, "claimed all twelve at once");
  const signalledAt = Date.now();
  instances[victim]!.child.kill("SIGTERM");

  const requests = await receiver.waitForRequests(CHANNELS, 20_000);
  const deliveredAt = Date.now();
  assert.deepEqual(await instances[victim]!.exited, { code: 0, signal: null });
  // Within a few sends' time, nowhere near the 120 s lease.
  assert.ok(deliveredAt - signalledAt < 10_000, `all sent ${deliveredAt - signalledAt} ms after SIGTERM`);
  const rows = await waitFor("every delivery recorded", async () => {
    const found = await db.db.selectFrom("alert_deliveries").select(["id", "status", "attempts"]).execute();
    return found.length === CHANNELS && found.every((r) => r.status === "delivered") ? found : undefined;
  });
  // The sends in flight finished (recorded once, not aborted and repeated); the four unstarted were handed over.
  const ids = requests.map((r) => String(r.headers["webhook-id"]));
  assert.equal(new Set(ids).size, CHANNELS, "each alert sent exactly once");
  assert.deepEqual(
    rows.map((r) => r.attempts),
    Array(CHANNELS).fill(1),
    "one attempt each",
  );
  assert.deepEqual(await claimsOf(pid), { jobs: 0, inbox: 0, alerts: 0, leases: 0 }, "nothing left held");
});
