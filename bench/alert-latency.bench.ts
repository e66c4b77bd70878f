// Alert latency benchmark (issue 5): from a Graph notification's arrival at the relay to the first channel request
// reaching the receiver, over many emergencies. Everything is real and in this process on loopback: the Microsoft
// 365 emulator places each call and delivers the rich (encrypted, signed) notification over HTTPS, the relay runs
// on SQLite in a temporary directory on a real disk (fsynced writes), and a plain HTTP server stands in for the
// generic webhook receiver. Calls go one at a time, so each figure is the path's own latency, not queueing.
//
// Run with `npm run bench -- alert-latency`. Settings (environment): BENCH_EMERGENCIES (1000).
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { createEmulator, loadOrCreateLocalCa } from "../emulator/index.ts";
import { setUpAlertingOrg, startAlertReceiver, timeEmergencyCalls } from "./alerting-org.ts";
import { loadConfig } from "../src/config.ts";
import { startRelay } from "../src/main.ts";

const COUNT = Number(process.env.BENCH_EMERGENCIES ?? 1000);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const dataDir = await mkdtemp(path.join(tmpdir(), "relay-bench-alert-"));
const tls = await loadOrCreateLocalCa(path.join(dataDir, "emulator-tls"));
const emulator = await createEmulator({ tls, port: 0, allowHttpWebhooks: true, pumpIntervalMs: 2 });
const caFile = path.join(dataDir, "emulator-ca.pem");
await writeFile(caFile, emulator.caPem!);

const alertReceiver = await startAlertReceiver();
const { url: receiverUrl, server: receiver } = alertReceiver;

// Notification arrivals at the relay's webhook, in order (one call at a time, so one POST per call).
const arrivals: number[] = [];
const port = await freePort();
const adminToken = randomBytes(32).toString("base64url");
const relay = await startRelay(
  loadConfig({
    RELAY_DATA_DIR: dataDir,
    RELAY_HOST: "127.0.0.1",
    RELAY_PORT: String(port),
    RELAY_PUBLIC_URL: `http://127.0.0.1:${port}`,
    RELAY_ADMIN_TOKEN: adminToken,
    RELAY_LOGIN_BASE_URL: emulator.url,
    RELAY_GRAPH_BASE_URL: emulator.url,
    RELAY_JWKS_URL: `${emulator.url}/common/discovery/v2.0/keys`,
    RELAY_MICROSOFT_CA_FILE: caFile,
    RELAY_ALLOW_PRIVATE_TARGETS: "true",
    RELAY_LOG_LEVEL: "info",
  }),
  {
    logDestination: new Writable({ write: (_chunk, _encoding, done) => done() }),
    extraRoutes: (app) =>
      app.addHook("onRequest", async (request) => {
        if (request.url.startsWith("/api/graph/notifications") && request.method === "POST")
          arrivals.push(performance.now());
      }),
  },
);

async function api<T>(method: string, url: string, body?: object): Promise<T> {
  const res = await fetch(`${relay.url}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw new Error(`${method} ${url} -> ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
async function control<T>(url: string, payload: object): Promise<T> {
  const res = await emulator.app.inject({ method: "POST", url, payload });
  if (res.statusCode >= 300) throw new Error(`emulator ${url} -> ${res.statusCode} ${res.body}`);
  return res.json() as T;
}

// Setup as an admin does it: tenant, app, org, connect, a webhook channel and a policy.
const { tenantId, orgId, serviceUserId, callerId } = await setUpAlertingOrg({
  name: "Contoso",
  api,
  control,
  emulator,
  receiverUrl,
});

const started = performance.now();
const latencies = await timeEmergencyCalls({
  count: COUNT,
  control,
  tenantId,
  callerId,
  serviceUserId,
  arrivals,
  receiver: alertReceiver,
  label: "alert-latency",
});
const elapsed = (performance.now() - started) / 1000;
const sorted = [...latencies].sort((a, b) => a - b);
const emergencies = await api<{ emergencies: unknown[] }>(
  "GET",
  `/api/emergencies?orgId=${orgId}&limit=1000`,
);
console.log(`alert latency: Graph notification arrives -> first channel request at the receiver
  emergencies:    ${COUNT} (one at a time; ${emergencies.emergencies.length} listed by the API, max 1000)
  p50:            ${percentile(sorted, 50).toFixed(1)} ms
  p99:            ${percentile(sorted, 99).toFixed(1)} ms   (target < 200 ms)
  max:            ${sorted[sorted.length - 1]!.toFixed(1)} ms
  run:            ${elapsed.toFixed(1)} s, SQLite on ${tmpdir()} (real disk, synchronous=FULL), load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`);

await relay.close();
await emulator.close();
await new Promise((resolve) => receiver.close(resolve));
await rm(dataDir, { recursive: true, force: true });
if (percentile(sorted, 99) >= 200) process.exitCode = 1;
