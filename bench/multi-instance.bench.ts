// Several instances (issue 7): notification intake and end-to-end figures for one SQLite instance, one PostgreSQL
// instance and three PostgreSQL instances behind a round-robin load balancer, in the same run.
//
// Every relay is its own process (bench/bench-relay.ts). PostgreSQL is a throwaway cluster started here like
// `npm test` starts one (scripts/postgres-cluster.mjs: loopback, fsync off, so PostgreSQL's figures leave out its
// disk while SQLite's include a real fsync). The load balancer is the tests' round-robin proxy
// (test/helpers/round-robin-proxy.ts, keep-alive) in this process.
//
// Intake: the load generator of bench/notification-intake.bench.ts (forked with BENCH_ROLE=load) against the reduced
// relay of that benchmark (no jobs, no inbox worker): a fixed rate, then saturation, and a no-op route's saturation
// as the front door's own ceiling; every 202 must be an inbox row. End to end: the Microsoft 365 emulator places
// emergency calls one at a time (notification arriving at the load balancer -> first request at a webhook
// receiver), then posts a burst of chat messages (time until every one was handed on to detection).
//
// Run with `npm run bench -- multi-instance`. Settings (environment): BENCH_RATE (500/s), BENCH_SECONDS (5 per
// phase), BENCH_CONNECTIONS (32), BENCH_CALLS (200), BENCH_BURST (1000).
import { fork, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { sql } from "kysely";
import pg from "pg";
import { createEmulator, loadOrCreateLocalCa, type Emulator } from "../emulator/index.ts";
import { startPostgresCluster } from "../scripts/postgres-cluster.mjs";
import { systemClock } from "../src/core/clock.ts";
import { NOTIFICATION_PATH } from "../src/core/subscription-policy.ts";
import { openDatabase, type OpenedDatabase } from "../src/storage/open-database.ts";
import { OrgStore } from "../src/storage/org-store.ts";
import { createSecretBox } from "../src/storage/secret-box.ts";
import { SubscriptionStore } from "../src/storage/subscription-store.ts";
import { freePort } from "../test/helpers/relay-setup.ts";
import { setUpAlertingOrg, startAlertReceiver, timeEmergencyCalls } from "./alerting-org.ts";
import { notificationTemplate, type PhaseRequest, type PhaseResult } from "./notification-load.ts";
import { startRoundRobinProxy, type RoundRobinProxy } from "../test/helpers/round-robin-proxy.ts";

const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const CALLS = Number(process.env.BENCH_CALLS ?? 200);
const BURST = Number(process.env.BENCH_BURST ?? 1000);
const NOOP_PATH = "/bench/noop";
const root = path.resolve(import.meta.dirname, "..");

interface Setup {
  name: string;
  engine: "sqlite" | "postgres";
  instances: number;
  proxy: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Databases and relay processes
// ---------------------------------------------------------------------------------------------------------------

const cluster = await startPostgresCluster({ log: (line) => console.log(`  ${line}`) });
process.on("exit", () => cluster.stop());
const scratch = await mkdtemp(path.join(tmpdir(), "relay-bench-multi-"));
let databases = 0;

interface Storage {
  /** RELAY_* variables of instance `i`. */
  env(i: number): Record<string, string>;
  open(): Promise<OpenedDatabase>;
}

async function newStorage(engine: Setup["engine"]): Promise<Storage> {
  const dir = await mkdtemp(path.join(scratch, `${engine}-`));
  if (engine === "sqlite") {
    return {
      env: () => ({ RELAY_DATA_DIR: dir }),
      open: () => openDatabase({ engine, file: path.join(dir, "relay.db") }),
    };
  }
  const name = `bench_${++databases}`;
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(cluster.url);
  url.pathname = `/${name}`;
  return {
    env: (i) => ({ RELAY_DATABASE_URL: url.toString(), RELAY_DATA_DIR: path.join(dir, `instance-${i}`) }),
    open: () => openDatabase({ engine, url: url.toString(), poolMax: 2 }),
  };
}

interface Front {
  /** Where Graph (the emulator, the load generator) sends requests: the proxy, or the one instance. */
  url: string;
  proxy: RoundRobinProxy | undefined;
  children: ChildProcess[];
  stop(): Promise<void>;
}

async function startRelays(
  setup: Setup,
  storage: Storage,
  mode: "intake" | "full",
  env: Record<string, string>,
  onRequest?: (req: http.IncomingMessage) => void,
): Promise<Front> {
  const proxy = setup.proxy ? await startRoundRobinProxy({ keepAlive: true, onRequest }) : undefined;
  const ports = await Promise.all(Array.from({ length: setup.instances }, () => freePort()));
  const publicUrl = proxy?.url ?? `http://127.0.0.1:${ports[0]}`;
  const children = ports.map((port, i) =>
    spawn(process.execPath, ["--import", "tsx", path.join(root, "bench/bench-relay.ts")], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        ...storage.env(i),
        ...env,
        RELAY_HOST: "127.0.0.1",
        RELAY_PORT: String(port),
        RELAY_PUBLIC_URL: publicUrl,
        RELAY_LOG_LEVEL: "info",
        BENCH_RELAY_MODE: mode,
      },
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  await Promise.all(children.map((child) => readyLine(child)));
  if (proxy) proxy.upstreams = ports.map((p) => `http://127.0.0.1:${p}`);
  return {
    url: publicUrl,
    proxy,
    children,
    async stop() {
      await Promise.all(
        children.map((child) => {
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGTERM");
          return exited;
        }),
      );
      await proxy?.close();
    },
  };
}

function readyLine(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("a relay did not start within 60 s")), 60_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("ready ")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`a relay exited with ${code} while starting`)));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Intake
// ---------------------------------------------------------------------------------------------------------------

const load = fork(path.join(root, "bench/notification-intake.bench.ts"), [], {
  execArgv: process.execArgv,
  env: { ...process.env, BENCH_ROLE: "load" },
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
function phase(request: PhaseRequest): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const failed = (code: number | null) => reject(new Error(`load generator exited with ${code}`));
    load.once("exit", failed);
    load.once("message", (result) => {
      load.off("exit", failed);
      resolve(result as PhaseResult);
    });
    load.send(request);
  });
}

interface IntakeResult {
  setup: Setup;
  fixed: PhaseResult;
  saturation: PhaseResult;
  noop: PhaseResult;
  stored: number;
  acknowledged: number;
}

async function intake(setup: Setup): Promise<IntakeResult> {
  const storage = await newStorage(setup.engine);
  const key = randomBytes(32);
  const front = await startRelays(setup, storage, "intake", {
    RELAY_ENCRYPTION_KEY: key.toString("hex"),
    RELAY_ADMIN_TOKEN: randomBytes(32).toString("base64url"),
  });
  const db = await storage.open();
  try {
    // One org and one live subscription, stored as the subscription keeper stores a confirmed one.
    const box = createSecretBox(key);
    const org = await new OrgStore(db.db, box, systemClock).create({ name: "Bench" });
    const subscriptionId = randomUUID();
    const clientState = randomBytes(48).toString("base64url");
    await new SubscriptionStore(db.db, box).save(
      {
        id: subscriptionId,
        orgId: org.id,
        resource: "/me/chats/getAllMessages",
        changeType: "created",
        clientState,
        includeResourceData: true,
        encryptionCertificateId: "bench-certificate",
        expiresAt: Date.now() + 2 * 86_400_000,
      },
      Date.now(),
    );
    const template = notificationTemplate(subscriptionId, clientState, randomUUID());
    const tag = `${setup.engine}-${setup.instances}-${setup.proxy ? "proxy" : "direct"}`;
    const url = `${front.url}${NOTIFICATION_PATH}`;
    const durationMs = SECONDS * 1000;
    const warm = await phase({
      kind: "saturate",
      url,
      template,
      tag: `${tag}-warm`,
      durationMs: 1000,
      connections: CONNECTIONS,
    });
    const fixed = await phase({ kind: "fixed", url, template, tag: `${tag}-fixed`, durationMs, rate: RATE });
    const saturation = await phase({
      kind: "saturate",
      url,
      template,
      tag: `${tag}-sat`,
      durationMs,
      connections: CONNECTIONS,
    });
    const noop = await phase({
      kind: "saturate",
      url: `${front.url}${NOOP_PATH}`,
      template,
      tag: `${tag}-noop`,
      durationMs,
      connections: CONNECTIONS,
    });
    const rows = await sql<{ n: number }>`select count(*) as n from inbox`.execute(db.db);
    return {
      setup,
      fixed,
      saturation,
      noop,
      stored: Number(rows.rows[0]?.n ?? 0),
      acknowledged: warm.ok + fixed.ok + saturation.ok,
    };
  } finally {
    await db.close();
    await front.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// End to end
// ---------------------------------------------------------------------------------------------------------------

const tls = await loadOrCreateLocalCa(path.join(scratch, "emulator-tls"));
const emulator: Emulator = await createEmulator({ tls, port: 0, allowHttpWebhooks: true, pumpIntervalMs: 2 });
const caFile = path.join(scratch, "emulator-ca.pem");
await writeFile(caFile, emulator.caPem!);
const alertReceiver = await startAlertReceiver();
const { url: receiverUrl, server: receiver } = alertReceiver;

async function control<T>(url: string, payload: object): Promise<T> {
  const res = await emulator.app.inject({ method: "POST", url, payload });
  if (res.statusCode >= 300) throw new Error(`emulator ${url} -> ${res.statusCode} ${res.body}`);
  return res.json() as T;
}

interface EndToEndResult {
  setup: Setup;
  p50: number;
  p99: number;
  max: number;
  burstSeconds: number;
  /** From the burst's last message being posted to the last one handed on: how far the relay lagged behind. */
  drainMs: number;
}

async function endToEnd(setup: Setup): Promise<EndToEndResult> {
  const storage = await newStorage(setup.engine);
  const adminToken = randomBytes(32).toString("base64url");
  const arrivals: number[] = [];
  const front = await startRelays(
    setup,
    storage,
    "full",
    {
      RELAY_ENCRYPTION_KEY: randomBytes(32).toString("hex"),
      RELAY_ADMIN_TOKEN: adminToken,
      RELAY_LOGIN_BASE_URL: emulator.url,
      RELAY_GRAPH_BASE_URL: emulator.url,
      RELAY_JWKS_URL: `${emulator.url}/common/discovery/v2.0/keys`,
      RELAY_MICROSOFT_CA_FILE: caFile,
      RELAY_ALLOW_PRIVATE_TARGETS: "true",
    },
    (req) => {
      if (req.method === "POST" && req.url?.startsWith(NOTIFICATION_PATH)) arrivals.push(performance.now());
    },
  );
  const db = await storage.open();
  try {
    const api = async <T>(method: string, url: string, body?: object): Promise<T> => {
      const res = await fetch(`${front.url}${url}`, {
        method,
        headers: {
          authorization: `Bearer ${adminToken}`,
          ...(body ? { "content-type": "application/json" } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      if (!res.ok) throw new Error(`${method} ${url} -> ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    // The admin's setup: tenant, app registration, org, connect, one webhook channel and a policy.
    const { tenantId, orgId, serviceUserId, callerId } = await setUpAlertingOrg({
      name: setup.name,
      api,
      control,
      emulator,
      receiverUrl,
    });

    // Emergency calls one at a time: from the notification reaching the load balancer to the receiver.
    const latencies = await timeEmergencyCalls({
      count: CALLS,
      control,
      tenantId,
      callerId,
      serviceUserId,
      arrivals,
      receiver: alertReceiver,
      label: setup.name,
    });
    const sorted = [...latencies].sort((a, b) => a - b);

    // A burst of chat messages: how long until every one was handed on to detection.
    const { chatId } = await control<{ chatId: string }>(`/_emulator/tenants/${tenantId}/chats`, {
      memberIds: [serviceUserId, callerId],
    });
    const handedOn = async () =>
      Number(
        (
          await sql<{ n: number }>`select count(*) as n from seen_messages
            where org_id = ${orgId} and handed_off_at is not null`.execute(db.db)
        ).rows[0]?.n ?? 0,
      );
    const target = (await handedOn()) + BURST;
    const started = performance.now();
    for (let i = 0; i < BURST; i++)
      await control(`/_emulator/tenants/${tenantId}/chats/${chatId}/messages`, {
        fromUserId: callerId,
        content: `burst message ${i}`,
      });
    const posted = performance.now();
    for (let polls = 0; (await handedOn()) < target; polls++) {
      if (polls > 6000) throw new Error(`${setup.name}: the burst was not handed on within 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return {
      setup,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1]!,
      burstSeconds: (performance.now() - started) / 1000,
      drainMs: performance.now() - posted,
    };
  } finally {
    await db.close();
    await front.stop();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

const sqliteOne: Setup = { name: "SQLite, 1 instance", engine: "sqlite", instances: 1, proxy: false };
const postgresOne: Setup = { name: "PostgreSQL, 1 instance", engine: "postgres", instances: 1, proxy: false };
const postgresOneProxied: Setup = { ...postgresOne, name: "PostgreSQL, 1 instance, proxy", proxy: true };
const postgresThree: Setup = {
  name: "PostgreSQL, 3 instances, proxy",
  engine: "postgres",
  instances: 3,
  proxy: true,
};
let exitCode = 0;
try {
  console.log(
    `intake: POST ${NOTIFICATION_PATH}, ${RATE}/s for ${SECONDS} s, then ${CONNECTIONS} keep-alive connections for ` +
      `${SECONDS} s (and the no-op route as the front door's ceiling)`,
  );
  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "-");
  const row = (cells: string[]) =>
    console.log(cells.map((c, i) => (i === 0 ? c.padEnd(34) : c.padStart(11))).join(" "));
  row(["setup", `p50 @${RATE}/s`, `p99 @${RATE}/s`, "max", "saturation", "no-op", "stored"]);
  for (const setup of [sqliteOne, postgresOne, postgresOneProxied, postgresThree]) {
    const r = await intake(setup);
    row([
      setup.name,
      `${ms(r.fixed.p50)} ms`,
      `${ms(r.fixed.p99)} ms`,
      `${ms(r.fixed.max)} ms`,
      `${r.saturation.throughput.toFixed(0)}/s`,
      `${r.noop.throughput.toFixed(0)}/s`,
      r.stored === r.acknowledged ? "all" : `${r.stored}/${r.acknowledged} MISSED`,
    ]);
    for (const [name, p] of [
      ["fixed", r.fixed],
      ["saturation", r.saturation],
    ] as const)
      if (p.failed > 0)
        console.log(`  ${setup.name}, ${name}: answers other than 202: ${JSON.stringify(p.statuses)}`);
    if (r.stored !== r.acknowledged) exitCode = 1;
  }

  console.log(
    `\nend to end: ${CALLS} emergency calls one at a time (notification at the load balancer -> first alert request ` +
      `at the receiver), then ${BURST} chat messages posted as fast as the emulator takes them (until all were handed on ` +
      `to detection; lag: after the last was posted)`,
  );
  row(["setup", "p50", "p99", "max", "burst", "messages/s", "lag"]);
  for (const setup of [
    { ...sqliteOne, proxy: true, name: "SQLite, 1 instance, proxy" },
    postgresOneProxied,
    postgresThree,
  ]) {
    const r = await endToEnd(setup);
    row([
      setup.name,
      `${ms(r.p50)} ms`,
      `${ms(r.p99)} ms`,
      `${ms(r.max)} ms`,
      `${r.burstSeconds.toFixed(1)} s`,
      `${(BURST / r.burstSeconds).toFixed(0)}/s`,
      `${r.drainMs.toFixed(0)} ms`,
    ]);
  }
  console.log(
    `\nPostgreSQL ${cluster.version} (fsync off), SQLite in ${tmpdir()} (synchronous=FULL); load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  load.kill();
  await emulator.close();
  await new Promise((resolve) => receiver.close(resolve));
  cluster.stop();
  await rm(scratch, { recursive: true, force: true });
}
process.exit(exitCode);
