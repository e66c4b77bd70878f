import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import type { Config } from "./config.ts";
import { systemClock, type Clock } from "./core/clock.ts";
import type { IdentityProvider } from "./core/ports.ts";
import { createConnectOrgFlow } from "./flows/connect-org.ts";
import {
  JOB_SECRET_SWEEP,
  JOB_TOKEN_HEALTH,
  JOB_TOKEN_REFRESH,
  createTokenKeeper,
} from "./flows/keep-tokens.ts";
import { createOrgLock } from "./flows/org-lock.ts";
import { requireAdmin } from "./http/admin-auth.ts";
import { registerConnectRoutes } from "./http/connect-routes.ts";
import { createHttpApp } from "./http/create-http-app.ts";
import { installErrorHandler } from "./http/error-handler.ts";
import { registerOrgRoutes } from "./http/org-routes.ts";
import { createJobScheduler, type JobScheduler } from "./jobs/job-scheduler.ts";
import { createLogger } from "./logger.ts";
import { createEntraClient, createPkcePair, randomUrlToken } from "./microsoft/entra-client.ts";
import { EntraTokenError } from "./microsoft/entra-token-error.ts";
import { ensureAdminToken, verifyAdminToken } from "./storage/admin-token-store.ts";
import { ConnectionStore } from "./storage/connection-store.ts";
import { loadOrCreateEncryptionKey } from "./storage/encryption-key.ts";
import { JobStore, type Job } from "./storage/job-store.ts";
import { LeaseStore } from "./storage/lease-store.ts";
import { migrateToLatest } from "./storage/migrate.ts";
import { openDatabase } from "./storage/open-database.ts";
import { OperationalEventStore } from "./storage/operational-event-store.ts";
import { OrgStore } from "./storage/org-store.ts";
import { PendingAuthStore } from "./storage/pending-auth-store.ts";
import { createSecretBox } from "./storage/secret-box.ts";
import { TokenCacheStore } from "./storage/token-cache-store.ts";

export interface RelayOptions {
  /** Tests share one fake clock between the relay and the emulator. */
  clock?: Clock;
  logDestination?: NodeJS.WritableStream;
  /** How often due jobs run; `false` leaves it to `runDueJobs()` (tests moving a fake clock). */
  jobIntervalMs?: number | false;
}

export interface RunningRelay {
  url: string;
  /** Set only on the start that generated it; print it once. */
  generatedAdminToken?: string;
  scheduler: JobScheduler;
  /** When the earliest job is due (tests moving a fake clock step from job to job). */
  nextJobAt(): Promise<number | undefined>;
  /** Every scheduled job, for operators and tests. */
  listJobs(): Promise<Job[]>;
  close(): Promise<void>;
}

/** The composition root: config -> storage -> adapters -> flows -> http + jobs. The only place that wires. */
export async function startRelay(config: Config, options: RelayOptions = {}): Promise<RunningRelay> {
  const clock = options.clock ?? systemClock;
  const logger = createLogger(config.logLevel, options.logDestination);
  if (!config.publicUrl) throw new Error("RELAY_PUBLIC_URL is required to serve");
  const publicUrl = config.publicUrl;
  const storage = await openDatabase(config.database);
  await migrateToLatest(storage.db, storage.engine);
  const { db } = storage;

  const {
    key,
    source: keySource,
    createdFile,
  } = await loadOrCreateEncryptionKey({
    configuredKey: config.encryptionKey,
    dataDir: config.dataDir,
  });
  if (createdFile)
    logger.warn(
      { dataDir: config.dataDir },
      "created a new encryption key file in the data directory; back it up with the database",
    );
  const box = createSecretBox(key);
  const { generatedToken } = await ensureAdminToken({ db, clock, configuredToken: config.adminToken });

  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const orgs = new OrgStore(db, box, clock);
  const connections = new ConnectionStore(db);
  const pending = new PendingAuthStore(db, box);
  const tokenCaches = new TokenCacheStore(db, box, clock);
  const events = new OperationalEventStore(db, clock);
  const jobs = new JobStore(db, storage.engine);
  const lock = createOrgLock({ leases: new LeaseStore(db), clock, owner, sleep: (ms: number) => sleep(ms) });
  const entra = createEntraClient({
    loginBaseUrl: config.loginBaseUrl,
    timeoutMs: config.microsoftTimeoutMs,
    ...(config.microsoftCaFile ? { extraCaPem: await readFile(config.microsoftCaFile, "utf8") } : {}),
  });
  const identity: IdentityProvider = {
    buildAuthorizeUrl: (app, request) => entra.buildAuthorizeUrl(app, request),
    redeemCode: (app, cache, request) => entra.redeemCode(app, cache, request),
    refresh: (app, cache, homeAccountId) => entra.refresh(app, cache, homeAccountId),
    currentAccessToken: (app, cache, homeAccountId) => entra.currentAccessToken(app, cache, homeAccountId),
    failureOf: (error) => (error instanceof EntraTokenError ? error.failure : undefined),
    createPkcePair,
    randomToken: (bytes) => randomUrlToken(bytes),
  };
  const loggedEvents = {
    append: async (event: Parameters<OperationalEventStore["append"]>[0]) => {
      const stored = await events.append(event);
      logger[event.severity === "info" ? "info" : event.severity === "warning" ? "warn" : "error"](
        { orgId: event.orgId, kind: event.kind, details: event.details },
        event.message,
      );
      return stored;
    },
  };
  const keeper = createTokenKeeper({
    clock,
    orgs,
    connections,
    tokenCaches,
    identity,
    lock,
    events: loggedEvents,
    jobs,
  });
  const connect = createConnectOrgFlow({
    clock,
    publicUrl,
    orgs,
    connections,
    pending,
    tokenCaches,
    identity,
    lock,
    events: loggedEvents,
    keeper,
  });

  const scheduler = createJobScheduler({
    store: jobs,
    clock,
    owner,
    handlers: {
      [JOB_TOKEN_REFRESH]: async (job) => {
        await keeper.refresh(job.orgId!, "scheduled");
      },
      [JOB_TOKEN_HEALTH]: (job) => keeper.runHealthRefresh(job.orgId!),
      [JOB_SECRET_SWEEP]: async () => {
        await keeper.sweepSecretExpiry();
        // Abandoned sign-ins leave their state rows behind; the daily sweep removes the expired ones.
        await pending.purgeExpired(clock.now());
      },
    },
    onError: (job, error) =>
      logger.error({ job: job.kind, orgId: job.orgId, err: error }, "job failed; retrying with backoff"),
  });

  const app = createHttpApp({
    logger,
    trustProxy: config.trustProxy,
    checkStorage: async () => {
      await sql`select 1`.execute(db);
    },
    jobsRunning: () => options.jobIntervalMs === false || scheduler.isRunning(),
    ...(config.tls
      ? {
          https: {
            cert: await readFile(config.tls.certFile, "utf8"),
            key: await readFile(config.tls.keyFile, "utf8"),
          },
        }
      : {}),
  });
  installErrorHandler(app);
  const admin = requireAdmin((token) => verifyAdminToken(db, token));
  registerOrgRoutes(app, { orgs, publicUrl, requireAdmin: admin });
  registerConnectRoutes(app, {
    connect,
    keeper,
    requireAdmin: admin,
    orgName: async (id) => (await orgs.get(id))?.name,
    events,
  });

  await keeper.ensureScheduled();
  await app.listen({ host: config.host, port: config.port });
  if (options.jobIntervalMs !== false) scheduler.start(options.jobIntervalMs ?? 1000);
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  logger.info({ engine: storage.engine, port, encryptionKey: keySource }, "relay listening");
  return {
    url: `${config.tls ? "https" : "http"}://${host}:${port}`,
    ...(generatedToken ? { generatedAdminToken: generatedToken } : {}),
    scheduler,
    nextJobAt: () => jobs.nextRunAt(),
    listJobs: () => jobs.list(),
    async close() {
      await scheduler.stop();
      await app.close();
      await storage.close();
    },
  };
}
