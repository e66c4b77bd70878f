// Notification intake benchmark (issue 4): acknowledgement latency at a fixed offered rate and throughput at
// saturation, for `POST /api/graph/notifications` beside a no-op route of the same server, in the same run.
//
// The relay runs in this process on loopback plain HTTP with SQLite in a temporary directory under os.tmpdir() (a
// real disk, never tmpfs: the inbox write is fsynced before the 202, and that is what is measured). The load
// generator runs in a forked child process (bench/raw-http-client.ts: keep-alive connections, one request at a time
// each, far less CPU per request than node:http's client, which the no-op figure used to measure instead of the
// relay) so it does not share the relay's event loop. Run with `npm run bench` (or `npm run bench -- notification-intake`).
//
// Settings (environment): BENCH_RATE (500/s), BENCH_SECONDS (10, each fixed-rate phase), BENCH_CONNECTIONS (the
// saturation sweep, "16,32,64,128"), BENCH_SATURATION_SECONDS (5, each step of the sweep).
import { fork } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { sql } from "kysely";
import { notificationTemplate, SEQ, type PhaseRequest, type PhaseResult } from "./notification-load.ts";
import { openRawHttpConnection, type RawHttpConnection } from "./raw-http-client.ts";
import { loadConfig } from "../src/config.ts";
import { systemClock } from "../src/core/clock.ts";
import { NOTIFICATION_PATH } from "../src/core/subscription-policy.ts";
import { GRAPH_ROUTE_LOG_LEVEL } from "../src/http/graph-notification-routes.ts";
import { startRelay } from "../src/main.ts";
import { openDatabase } from "../src/storage/open-database.ts";
import { OrgStore } from "../src/storage/org-store.ts";
import { createSecretBox } from "../src/storage/secret-box.ts";
import { SubscriptionStore } from "../src/storage/subscription-store.ts";

const NOOP_PATH = "/bench/noop";

// ---------------------------------------------------------------------------------------------------------------
// The load generator (child process)
// ---------------------------------------------------------------------------------------------------------------

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function runPhase(phase: PhaseRequest): Promise<PhaseResult> {
  const target = new URL(phase.url);
  const parts = phase.template.split(SEQ);
  const latencies: number[] = [];
  const fromSend: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let maxSendLagMs = 0;

  const idle: RawHttpConnection[] = [];
  const opened: RawHttpConnection[] = [];
  const rawTarget = { host: target.hostname, port: Number(target.port), path: target.pathname };

  /** One request; resolves when the answer is complete. Latency counts from `scheduledAt` (no coordinated omission). */
  const send = async (scheduledAt: number) => {
    const sentAt = performance.now();
    const body = parts.join(`${phase.tag}-${sent}`);
    sent += 1;
    let connection = idle.pop();
    try {
      if (!connection) {
        connection = await openRawHttpConnection(rawTarget);
        opened.push(connection);
      }
      const status = await connection.post(body);
      statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
      if (status === 202) {
        ok += 1;
        const now = performance.now();
        latencies.push(now - scheduledAt);
        fromSend.push(now - sentAt);
      } else failed += 1;
      idle.push(connection);
    } catch (error) {
      const message = (error as Error).message;
      statuses[message] = (statuses[message] ?? 0) + 1;
      failed += 1;
    }
  };

  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  if (phase.kind === "fixed") {
    const rate = phase.rate ?? 500;
    const total = Math.round((rate * phase.durationMs) / 1000);
    const interval = 1000 / rate;
    const inFlight: Promise<void>[] = [];
    await new Promise<void>((done) => {
      let i = 0;
      const tick = () => {
        const now = performance.now();
        while (i < total && started + i * interval <= now) {
          const scheduledAt = started + i * interval;
          maxSendLagMs = Math.max(maxSendLagMs, now - scheduledAt);
          inFlight.push(send(scheduledAt));
          i += 1;
        }
        if (i < total) setTimeout(tick, Math.max(0, started + i * interval - performance.now()));
        else done();
      };
      tick();
    });
    await Promise.all(inFlight);
  } else {
    const deadline = started + phase.durationMs;
    const loop = async () => {
      while (performance.now() < deadline) await send(performance.now());
    };
    await Promise.all(Array.from({ length: phase.connections ?? 32 }, loop));
  }
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  for (const connection of opened) connection.close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    connections: phase.kind === "saturate" ? (phase.connections ?? 32) : undefined,
    sent,
    ok,
    failed,
    statuses,
    elapsedMs,
    throughput: ok / (elapsedMs / 1000),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    maxSendLagMs,
    p99FromSend: percentile(Float64Array.from(fromSend).sort(), 99),
    loadCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

if (process.env.BENCH_ROLE === "load") {
  process.on("message", (phase: PhaseRequest) => {
    runPhase(phase).then(
      (result) => process.send!(result),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
} else {
  await main();
}

// ---------------------------------------------------------------------------------------------------------------
// The relay and the report (this process)
// ---------------------------------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The data directory's disk this run: 200 append + fsync rounds of 4 KB, as a SQLite WAL commit does. */
function probeFsync(dir: string): { p50: number; p99: number } {
  const file = path.join(dir, "fsync-probe");
  const fd = openSync(file, "w");
  const block = randomBytes(4096);
  const times: number[] = [];
  try {
    for (let i = 0; i < 200; i += 1) {
      const started = performance.now();
      writeSync(fd, block);
      fsyncSync(fd);
      times.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
  }
  const sorted = Float64Array.from(times).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function main(): Promise<void> {
  const rate = Number(process.env.BENCH_RATE ?? 500);
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const connectionCounts = (process.env.BENCH_CONNECTIONS ?? "16,32,64,128").split(",").map(Number);
  const saturationSeconds = Number(process.env.BENCH_SATURATION_SECONDS ?? 5);
  const saturationMs = saturationSeconds * 1000;
  const durationMs = seconds * 1000;

  // os.tmpdir(), never /dev/shm: durability is the point, so fsync must hit the data directory's real disk.
  const dataDir = await mkdtemp(path.join(tmpdir(), "relay-bench-"));
  const fsyncBefore = probeFsync(dataDir);
  const port = await freePort();
  const encryptionKey = randomBytes(32);
  const config = loadConfig({
    RELAY_DATA_DIR: dataDir,
    RELAY_HOST: "127.0.0.1",
    RELAY_PORT: String(port),
    RELAY_PUBLIC_URL: `http://127.0.0.1:${port}`,
    RELAY_ADMIN_TOKEN: randomBytes(32).toString("base64url"),
    RELAY_ENCRYPTION_KEY: encryptionKey.toString("hex"),
    // Production's default level: fastify's two request lines per request are written (to a sink that drops them).
    RELAY_LOG_LEVEL: "info",
  });
  const discard = new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  const relay = await startRelay(config, {
    // No scheduled jobs and no inbox worker: the benchmark measures the webhook's acknowledgement alone. Items stay
    // pending in the inbox (production would process each one after its 202, on the same SQLite writer).
    jobIntervalMs: false,
    wakeInboxOnDelivery: false,
    logDestination: discard,
    extraRoutes: (app) => {
      // Logged like the notification route, so the comparison is the route's own work and nothing else.
      app.post(NOOP_PATH, { logLevel: GRAPH_ROUTE_LOG_LEVEL }, async (_req, reply) => reply.code(202).send());
    },
  });

  // One org and one live subscription, stored the way the subscription keeper stores a confirmed one.
  const tenantId = randomUUID();
  const subscriptionId = randomUUID();
  const clientState = randomBytes(48).toString("base64url");
  const seedDb = await openDatabase(config.database);
  const box = createSecretBox(encryptionKey);
  const org = await new OrgStore(seedDb.db, box, systemClock).create({ name: "Bench" });
  await new SubscriptionStore(seedDb.db, box).save(
    {
      id: subscriptionId,
      orgId: org.id,
      resource: "/me/chats/getAllMessages",
      changeType: "created",
      clientState,
      includeResourceData: true,
      encryptionCertificateId: "bench-certificate",
      expiresAt: Date.now() + 3 * 86_400_000,
    },
    Date.now(),
  );
  const template = notificationTemplate(subscriptionId, clientState, tenantId);

  const load = fork(fileURLToPath(import.meta.url), [], {
    execArgv: process.execArgv,
    env: { ...process.env, BENCH_ROLE: "load" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  // The relay's event loop: a synchronous SQLite commit (fsync) or checkpoint blocks every request behind it.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const loopStalls = new Map<string, { p99: number; max: number }>();
  const run = (phase: PhaseRequest) =>
    new Promise<PhaseResult>((resolve, reject) => {
      loopDelay.reset();
      const cpuBefore = process.cpuUsage();
      const exited = (code: number | null) => reject(new Error(`load generator exited with ${code}`));
      load.once("exit", exited);
      load.once("message", (result: PhaseResult) => {
        load.off("exit", exited);
        const cpu = process.cpuUsage(cpuBefore);
        loopStalls.set(phase.tag, { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 });
        resolve({ ...result, relayCpuMs: (cpu.user + cpu.system) / 1000 });
      });
      load.send(phase);
    });
  const notifications = `${relay.url}${NOTIFICATION_PATH}`;
  const noop = `${relay.url}${NOOP_PATH}`;

  console.log(
    `relay ${relay.url}, SQLite in ${dataDir} (journal_mode=WAL, synchronous=FULL), body ${Buffer.byteLength(template.replaceAll(SEQ, "x-0"))} bytes, ` +
      `${rate}/s for ${seconds} s, saturation with ${connectionCounts.join("/")} keep-alive connections for ${saturationSeconds} s each`,
  );
  let exitCode = 0;
  try {
    // Warm-up (JIT, sockets, SQLite pages); its items are counted in the inbox check below.
    const warm = { kind: "saturate" as const, template, durationMs: 1000, connections: 32 };
    const warmNoop = await run({ ...warm, url: noop, tag: "warm-noop" });
    const warmNotify = await run({ ...warm, url: notifications, tag: "warm-notify" });
    const fixedNoop = await run({ kind: "fixed", url: noop, template, tag: "fixed-noop", durationMs, rate });
    const fixedNotify = await run({
      kind: "fixed",
      url: notifications,
      template,
      tag: "fixed-notify",
      durationMs,
      rate,
    });
    // Saturation is the best throughput over several connection counts, for each route: the no-op route peaks
    // where its event loop is busy all the time, the notification route where the writer thread's commits are
    // full; one fixed count would favour one of them. The two routes alternate at each count.
    const satNoops: PhaseResult[] = [];
    const satNotifies: PhaseResult[] = [];
    for (const count of connectionCounts) {
      const phase = { kind: "saturate" as const, template, durationMs: saturationMs, connections: count };
      satNoops.push(await run({ ...phase, url: noop, tag: `sat-noop-${count}` }));
      satNotifies.push(await run({ ...phase, url: notifications, tag: `sat-notify-${count}` }));
    }
    const peak = (results: PhaseResult[]) =>
      results.reduce((best, r) => (r.failed === 0 && r.throughput > best.throughput ? r : best));
    const satNoop = peak(satNoops);
    const satNotify = peak(satNotifies);

    // Every 202 on the notification route must be a row in the inbox.
    const rows = await sql<{ n: number }>`select count(*) as n from inbox`.execute(seedDb.db);
    const stored = Number(rows.rows[0]?.n ?? 0);
    const acknowledged = warmNotify.ok + fixedNotify.ok + satNotifies.reduce((sum, r) => sum + r.ok, 0);

    const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "-");
    const row = (cells: string[]) =>
      console.log(cells.map((c, i) => (i === 0 ? c.padEnd(36) : c.padStart(10))).join(" "));
    console.log("");
    row(["route", "offered/s", "sent", "202", "failed", "p50 ms", "p99 ms", "max ms", "req/s"]);
    const line = (name: string, offered: string, r: PhaseResult) =>
      row([
        name,
        offered,
        String(r.sent),
        String(r.ok),
        String(r.failed),
        ms(r.p50),
        ms(r.p99),
        ms(r.max),
        r.throughput.toFixed(0),
      ]);
    line(`${NOTIFICATION_PATH} fixed`, String(rate), fixedNotify);
    line(`${NOOP_PATH} fixed`, String(rate), fixedNoop);
    connectionCounts.forEach((count, i) => {
      line(`${NOTIFICATION_PATH} saturation`, `${count} conn`, satNotifies[i]!);
      line(`${NOOP_PATH} saturation`, `${count} conn`, satNoops[i]!);
    });
    for (const [name, r] of [
      ["fixed notify", fixedNotify],
      ["fixed noop", fixedNoop],
      ...connectionCounts.flatMap((count, i) => [
        [`saturation notify ${count} conn`, satNotifies[i]!] as const,
        [`saturation noop ${count} conn`, satNoops[i]!] as const,
      ]),
    ] as const)
      if (r.failed > 0) console.log(`  ${name}: answers other than 202: ${JSON.stringify(r.statuses)}`);
    // Saturation is shared CPU: the relay's threads and the load generator run on the same cores.
    const perRequest = (r: PhaseResult) =>
      `relay ${((r.relayCpuMs! * 1000) / r.ok).toFixed(1)} µs (${((r.relayCpuMs! / r.elapsedMs) * 100).toFixed(0)}% of a core), ` +
      `load generator ${((r.loadCpuMs * 1000) / r.ok).toFixed(1)} µs (${((r.loadCpuMs / r.elapsedMs) * 100).toFixed(0)}%)`;
    console.log(`  CPU per request at peak saturation: notify ${perRequest(satNotify)}`);
    console.log(`  CPU per request at peak saturation: noop   ${perRequest(satNoop)}`);
    const peakTags = [`sat-notify-${satNotify.connections}`, `sat-noop-${satNoop.connections}`];
    for (const tag of ["fixed-notify", "fixed-noop", ...peakTags]) {
      const stall = loopStalls.get(tag);
      if (stall)
        console.log(
          `  relay event-loop delay during ${tag}: p99 ${ms(stall.p99)} ms, max ${ms(stall.max)} ms`,
        );
    }
    console.log(
      `  p99 counted from the actual send at ${rate}/s: notify ${ms(fixedNotify.p99FromSend)} ms, noop ${ms(fixedNoop.p99FromSend)} ms`,
    );
    const fsyncAfter = probeFsync(dataDir);
    console.log(
      `  disk: 4 KB write+fsync in ${dataDir}: p50 ${ms(fsyncBefore.p50)} ms / p99 ${ms(fsyncBefore.p99)} ms before, ` +
        `p50 ${ms(fsyncAfter.p50)} ms / p99 ${ms(fsyncAfter.p99)} ms after; load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}`,
    );
    console.log(
      `  load generator's own worst send lag at ${rate}/s: notify ${ms(fixedNotify.maxSendLagMs)} ms, noop ${ms(fixedNoop.maxSendLagMs)} ms`,
    );
    console.log(
      `  inbox rows ${stored}, notification 202s ${acknowledged} (warm-up included; noop warm-up ${warmNoop.ok})`,
    );

    const p99Ok = fixedNotify.p99 < 10 && fixedNotify.failed === 0;
    const ratio = satNotify.throughput / satNoop.throughput;
    const ratioOk = ratio >= 0.4;
    const storedOk = stored === acknowledged;
    console.log("");
    console.log(
      `p99 at ${rate}/s: notify ${ms(fixedNotify.p99)} ms vs noop ${ms(fixedNoop.p99)} ms (x${(fixedNotify.p99 / fixedNoop.p99).toFixed(1)}); ` +
        `target < 10 ms: ${p99Ok ? "MET" : "MISSED"}`,
    );
    console.log(
      `saturation (best over ${connectionCounts.join("/")} connections): notify ${satNotify.throughput.toFixed(0)}/s ` +
        `(${satNotify.connections} conn) = ${(ratio * 100).toFixed(1)}% of noop ${satNoop.throughput.toFixed(0)}/s (${satNoop.connections} conn); ` +
        `target >= 40%: ${ratioOk ? "MET" : "MISSED"}`,
    );
    console.log(`every 202 stored in the inbox: ${storedOk ? "yes" : "NO (MISSED)"}`);
  } catch (error) {
    console.error(error);
    exitCode = 1;
  } finally {
    load.kill();
    await seedDb.close();
    await relay.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  process.exit(exitCode);
}
