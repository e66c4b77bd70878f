import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import { Registry } from "prom-client";
import type { Config } from "./config.ts";
import { createCidrMatcher } from "./core/cidr.ts";
import { DRILL_CAPTURE_RETENTION_MS } from "./core/drill.ts";
import { INBOX_RETENTION_MS, SEEN_MESSAGE_RETENTION_MS } from "./core/intake-retention.ts";
import { systemClock, type Clock } from "./core/clock.ts";
import type { DecryptionKeyring, LifecycleHandler, SubscriptionLookup } from "./core/intake-ports.ts";
import type { IdentityProvider } from "./core/ports.ts";
import type { GraphPort } from "./core/subscription.ts";
import { createConnectOrgFlow } from "./flows/connect-org.ts";
import {
  JOB_SECRET_SWEEP,
  JOB_TOKEN_HEALTH,
  JOB_TOKEN_REFRESH,
  createTokenKeeper,
} from "./flows/keep-tokens.ts";
import {
  JOB_SUBSCRIPTION_ENSURE,
  JOB_SUBSCRIPTION_EXPIRY_CHECK,
  JOB_SUBSCRIPTION_RENEW,
  createSubscriptionKeeper,
  type SubscriptionKeeper,
} from "./flows/keep-subscriptions.ts";
import { createOrgLock } from "./flows/org-lock.ts";
import { requireAdmin } from "./http/admin-auth.ts";
import { registerConnectRoutes } from "./http/connect-routes.ts";
import { createHttpApp } from "./http/create-http-app.ts";
import { installErrorHandler } from "./http/error-handler.ts";
import {
  createNotificationMetrics,
  registerGraphNotificationRoutes,
} from "./http/graph-notification-routes.ts";
import { registerDetectionRoutes } from "./http/detection-routes.ts";
import { registerOrgRoutes } from "./http/org-routes.ts";
import { createJobScheduler, type JobScheduler } from "./jobs/job-scheduler.ts";
import { Counter, Histogram } from "prom-client";
import type { NewMessageHandler } from "./core/intake-ports.ts";
import { createTeamsRateLimiter } from "./core/rate-limiter.ts";
import { cacheSubscriptionLookup } from "./core/subscription-lookup-cache.ts";
import { createMessageDetector } from "./flows/detect-messages.ts";
import { createInboxWorker } from "./flows/process-inbox.ts";
import {
  createMessageReconciler,
  JOB_RECONCILE_MESSAGES,
  type MessageReconciler,
} from "./flows/reconcile-messages.ts";
import { decryptRichNotification } from "./microsoft/decrypt-rich-notification.ts";
import { createValidationTokenVerifier } from "./microsoft/validation-token-verifier.ts";
import { PollWatermarkStore } from "./storage/poll-watermark-store.ts";
import { SeenMessageStore } from "./storage/seen-message-store.ts";
import { createLogger } from "./logger.ts";
import { createEntraClient, createPkcePair, randomUrlToken } from "./microsoft/entra-client.ts";
import { EntraTokenError } from "./microsoft/entra-token-error.ts";
import { createGraphClient, GraphRequestError, type GraphClient } from "./microsoft/graph-client.ts";
import { ensureAdminToken, verifyAdminToken } from "./storage/admin-token-store.ts";
import { ConnectionStore } from "./storage/connection-store.ts";
import { DetectionRuleStore } from "./storage/detection-rule-store.ts";
import { DrillStore } from "./storage/drill-store.ts";
import { EncryptionCertificateStore } from "./storage/encryption-certificate-store.ts";
import { loadOrCreateEncryptionKey } from "./storage/encryption-key.ts";
import { verifyEncryptionKey } from "./storage/encryption-key-check.ts";
import { createGroupCommitWriter } from "./storage/group-commit-inbox.ts";
import { InboxStore } from "./storage/inbox-store.ts";
import { startSqliteInboxWriter } from "./storage/sqlite-inbox-writer.ts";
import { JobStore, type Job } from "./storage/job-store.ts";
import { LeaseStore } from "./storage/lease-store.ts";
import { migrateToLatest } from "./storage/migrate.ts";
import { openDatabase } from "./storage/open-database.ts";
import { OperationalEventStore } from "./storage/operational-event-store.ts";
import { OrgStore } from "./storage/org-store.ts";
import { PendingAuthStore } from "./storage/pending-auth-store.ts";
import { createSecretBox } from "./storage/secret-box.ts";
import { SubscriptionStore } from "./storage/subscription-store.ts";
import { TokenCacheStore } from "./storage/token-cache-store.ts";
import { createChannelRegistry } from "./channels/channel.ts";
import { testAlertMessage } from "./channels/test-alert-message.ts";
import type { ChannelDrivers } from "./core/alert-channel.ts";
import { createAcknowledger } from "./flows/acknowledge-emergency.ts";
import { JOB_ALERT_DELIVER, createOutboxWorker, type OutboxWorker } from "./flows/deliver-outbox.ts";
import { createEscalator } from "./flows/escalate.ts";
import { JOB_ALERT_ESCALATE, createEmergencyRaiser, type EmergencyRaiser } from "./flows/raise-emergency.ts";
import { createOperationalAlertRouter } from "./flows/route-operational-events.ts";
import { createTestAlertSender } from "./flows/send-test-alert.ts";
import type { EmergencyFeed } from "./core/emergency-feed.ts";
import { createInProcessEmergencyFeed } from "./flows/in-process-emergency-feed.ts";
import { createEmergencyChangePoller, type EmergencyChangePoller } from "./flows/poll-emergency-changes.ts";
import { registerAckRoutes } from "./http/ack-routes.ts";
import { registerAlertConfigRoutes } from "./http/alert-config-routes.ts";
import { registerEmergencyRoutes } from "./http/emergency-routes.ts";
import { AlertChannelStore } from "./storage/alert-channel-store.ts";
import { AlertOutboxStore } from "./storage/alert-outbox-store.ts";
import { AlertPolicyStore } from "./storage/alert-policy-store.ts";
import { AlertTemplateStore } from "./storage/alert-template-store.ts";
import { AlertThrottleStore } from "./storage/alert-throttle-store.ts";
import { EmergencyStore } from "./storage/emergency-store.ts";
import { AccountStore } from "./storage/account-store.ts";
import { AuditLogStore } from "./storage/audit-log-store.ts";
import { LoginThrottleStore } from "./storage/login-throttle-store.ts";
import { SessionStore } from "./storage/session-store.ts";
import { registerApiAudit } from "./web/api-audit.ts";
import { ensureFirstAdmin, type FirstAdmin } from "./web/ensure-first-admin.ts";
import { createOrgChecks } from "./web/org-checks.ts";
import { createPasswordHasher } from "./web/password-hasher.ts";
import { registerWebApp } from "./web/register-web-app.ts";

export interface RelayOptions {
  /** Tests share one fake clock between the relay and the emulator. */
  clock?: Clock;
  logDestination?: NodeJS.WritableStream;
  /** How often due jobs run; `false` leaves it to `runDueJobs()` (tests moving a fake clock). */
  jobIntervalMs?: number | false;
  /** Benchmarks only (bench/notification-intake.bench.ts): routes added to the HTTP app before it listens. */
  extraRoutes?: (app: FastifyInstance) => void;
  /** Benchmarks only: `false` keeps a delivery from waking the inbox worker (items stay pending). Default true. */
  wakeInboxOnDelivery?: boolean;
  /**
   * The live board: how often other instances' changes are looked for (default 1000 ms; `false`: only by
   * `alerting.changePoller.pollOnce()`), and the stream's heartbeat (default 15 s).
   */
  board?: { pollIntervalMs?: number | false; heartbeatMs?: number };
}

export interface RunningRelay {
  url: string;
  /** Set only on the start that generated it; print it once. */
  generatedAdminToken?: string;
  /** The web app's first admin, set only on the start that created it; `password` only when generated: print it once. */
  firstAdmin?: FirstAdmin;
  scheduler: JobScheduler;
  /** When the earliest job is due (tests moving a fake clock step from job to job). */
  nextJobAt(): Promise<number | undefined>;
  /** Every scheduled job, for operators and tests. */
  listJobs(): Promise<Job[]>;
  /** Receiving notifications (issue 4): what the inbox worker and polling build on, and what tests inspect. */
  intake: {
    /** The webhook's durable queue (`InboxQueue` plus listing). */
    inbox: InboxStore;
    /** Private keys by `encryptionCertificateId`, retired ones included. */
    keyring: DecryptionKeyring;
    subscriptions: SubscriptionLookup;
    /** Lifecycle items from the inbox go here. */
    handleLifecycle: LifecycleHandler;
    subscriptionKeeper: SubscriptionKeeper;
    /** Delegated Graph calls per org (bearer, Retry-After, paging). */
    graph: GraphClient;
    /** Processes the inbox until nothing is due (tests on a fake clock; production runs it on each delivery). */
    processInbox(): Promise<number>;
    reconciler: MessageReconciler;
  };
  /** Alerting (issue 5): what tests and the demo inspect. */
  alerting: {
    emergencies: EmergencyStore;
    outbox: AlertOutboxStore;
    worker: OutboxWorker;
    raiser: EmergencyRaiser;
    /** Changes to emergencies, for the live board. */
    feed: EmergencyFeed;
    /** Finds changes other instances wrote (shared PostgreSQL). */
    changePoller: EmergencyChangePoller;
    /** Resolves when no alert is being stored or sent. */
    idle(): Promise<void>;
  };
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
  // Before anything is sealed: an instance with another key than the database's must not start (issue 7).
  await verifyEncryptionKey(db, box, clock.now()).catch(async (error: unknown) => {
    await storage.close();
    throw error;
  });
  const { generatedToken } = await ensureAdminToken({ db, clock, configuredToken: config.adminToken });
  // --- Web app (issue 6): accounts, sessions, sign-in throttling, the audit log; the first admin on first start. ---
  const accounts = new AccountStore(db, clock);
  const webSessions = new SessionStore(db);
  const loginThrottle = new LoginThrottleStore(db);
  const audit = new AuditLogStore(db, clock);
  const hasher = createPasswordHasher();
  const firstAdmin = await ensureFirstAdmin({
    accounts,
    hasher,
    ...(config.initialAdminPassword ? { configuredPassword: config.initialAdminPassword } : {}),
  });

  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const orgs = new OrgStore(db, box, clock);
  const connections = new ConnectionStore(db);
  const pending = new PendingAuthStore(db, box);
  const tokenCaches = new TokenCacheStore(db, box, clock);
  const events = new OperationalEventStore(db, clock);
  const jobs = new JobStore(db, storage.engine);
  const leases = new LeaseStore(db);
  const lock = createOrgLock({ leases, clock, owner, sleep: (ms: number) => sleep(ms) });
  const microsoftCaPem = config.microsoftCaFile ? await readFile(config.microsoftCaFile, "utf8") : undefined;
  const entra = createEntraClient({
    loginBaseUrl: config.loginBaseUrl,
    timeoutMs: config.microsoftTimeoutMs,
    ...(microsoftCaPem ? { extraCaPem: microsoftCaPem } : {}),
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
  // Set once alerting is wired below: warnings and worse go to the org's operations policy.
  let alertOperations: ((event: Awaited<ReturnType<OperationalEventStore["append"]>>) => void) | undefined;
  const loggedEvents = {
    append: async (event: Parameters<OperationalEventStore["append"]>[0]) => {
      const stored = await events.append(event);
      logger[event.severity === "info" ? "info" : event.severity === "warning" ? "warn" : "error"](
        { orgId: event.orgId, kind: event.kind, details: event.details },
        event.message,
      );
      alertOperations?.(stored);
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

  // --- Intake (issue 4): Graph subscriptions, encryption certificates, the inbox and Graph's webhook routes. ---
  const certificates = new EncryptionCertificateStore(db, box);
  const subscriptions = new SubscriptionStore(db, box);
  const inbox = new InboxStore(db, storage.engine);
  // SQLite: the webhook's inbox inserts commit on a worker thread, off the event loop (sqlite-inbox-writer.ts).
  const inboxWriter =
    config.database.engine === "sqlite" ? await startSqliteInboxWriter(config.database.file) : undefined;
  const graphClient = createGraphClient({
    baseUrl: config.graphBaseUrl,
    ...(microsoftCaPem ? { extraCaPem: microsoftCaPem } : {}),
    timeoutMs: config.microsoftTimeoutMs,
    accessToken: (orgId) => keeper.accessToken(orgId),
    sleep: (ms) => sleep(ms),
  });
  const graph: GraphPort = {
    request: (orgId, method, path, body) => graphClient.request(orgId, method, path, body),
    failureOf: (error) =>
      error instanceof GraphRequestError
        ? {
            status: error.status,
            code: error.code,
            message: error.message,
            retryAfterMs: error.retryAfterMs,
            transport: error.transport,
          }
        : undefined,
  };
  // --- Processing (issue 4): dedupe, the hand-off to detection, and polling as the safety net. ---
  // A dead worker's claims come back after the lease; a crashed instance's work is taken over, never lost.
  const seen = new SeenMessageStore(db, { claimStaleMs: config.workLeaseMs });
  const limiter = createTeamsRateLimiter();
  const messagesReceived = new Counter({
    name: "relay_messages_received_total",
    help: "Teams chat messages handed on, by how they arrived",
    labelNames: ["source"],
    registers: [],
  });
  // --- Alerting (issue 5): channels, policies, templates, the outbox, escalation and acknowledgement. ---
  const channelRegistry = createChannelRegistry({
    allowPrivateTargets: config.allowPrivateTargets,
    webexBaseUrl: config.webexBaseUrl,
    twilioBaseUrl: config.twilioBaseUrl,
    timeoutMs: config.channelTimeoutMs,
    now: () => clock.now(),
  });
  const drivers: ChannelDrivers = {
    parse: (type, input, existing) => channelRegistry[type].parse(input, existing),
    describe: (target) => channelRegistry[target.type].describe(target),
    send: (message, target, sendOptions) => channelRegistry[target.type].send(message, target, sendOptions),
  };
  const alertChannels = new AlertChannelStore(db, box);
  const alertPolicies = new AlertPolicyStore(db);
  const alertTemplates = new AlertTemplateStore(db);
  // Stores announce committed changes to emergencies; the web board listens (and polls for other instances').
  const emergencyFeed = createInProcessEmergencyFeed({ log: logger });
  const announce = { onChanged: (emergencyId: string) => emergencyFeed.publish(emergencyId) };
  const emergencies = new EmergencyStore(db, storage.engine, box, announce);
  const outbox = new AlertOutboxStore(db, storage.engine, box, announce);
  const changePoller = createEmergencyChangePoller({
    source: emergencies,
    feed: emergencyFeed,
    clock,
    ...(typeof options.board?.pollIntervalMs === "number"
      ? { intervalMs: options.board.pollIntervalMs }
      : {}),
    log: logger,
  });
  // A row stays with its sender well beyond one attempt's timeout; after a crash it is taken over then.
  const alertLeaseMs = Math.max(config.workLeaseMs, 3 * config.channelTimeoutMs);
  const alertAttempts = new Counter({
    name: "relay_alert_attempts_total",
    help: "Alert delivery attempts, by why the delivery exists (initial, escalation, repeat, operational) and outcome",
    labelNames: ["purpose", "outcome"],
    registers: [],
  });
  const alertFirstRequest = new Histogram({
    name: "relay_alert_first_request_seconds",
    help: "From an alert being stored (with its emergency) to its first channel request",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 5],
    registers: [],
  });
  const outboxWorker = createOutboxWorker({
    outbox,
    channels: alertChannels,
    drivers,
    events: loggedEvents,
    jobs,
    clock,
    owner,
    leaseMs: alertLeaseMs,
    log: logger,
    observe: ({ delivery, result, sinceCreatedMs }) => {
      alertAttempts.inc({ purpose: delivery.purpose, outcome: result.outcome });
      if (delivery.attempts === 1) alertFirstRequest.observe(sinceCreatedMs / 1000);
    },
  });
  const dispatch = (claimed: Parameters<OutboxWorker["dispatch"]>[0]) => outboxWorker.dispatch(claimed);
  const alertFlowDeps = {
    emergencies,
    channels: alertChannels,
    templates: alertTemplates,
    orgs,
    dispatch,
    clock,
    owner,
    leaseMs: alertLeaseMs,
    publicUrl,
    log: logger,
  };
  const raiser = createEmergencyRaiser({ ...alertFlowDeps, policies: alertPolicies, events: loggedEvents });
  const escalator = createEscalator({ ...alertFlowDeps, jobs });
  const acknowledger = createAcknowledger({ emergencies, channels: alertChannels, clock, log: logger });
  const operationalRouter = createOperationalAlertRouter({
    ...alertFlowDeps,
    policies: alertPolicies,
    outbox,
    throttle: new AlertThrottleStore(db),
  });
  const alertWork = new Set<Promise<unknown>>();
  alertOperations = (event) => {
    const work = operationalRouter
      .route(event)
      .catch((error: unknown) =>
        logger.error({ orgId: event.orgId, kind: event.kind, err: error }, "operational alert failed"),
      )
      .finally(() => alertWork.delete(work));
    alertWork.add(work);
  };
  // --- end of alerting wiring ---

  // Emergency detection: the default rule plus each org's rules; messages are kept only while a drill runs.
  const detectionRules = new DetectionRuleStore(db);
  const drills = new DrillStore(db);
  const detector = createMessageDetector({
    rules: detectionRules,
    drills,
    onError: (stage, orgId, error) =>
      logger.error({ orgId, stage, err: error }, "emergency detection could not read or store its data"),
  });
  const onNewMessage: NewMessageHandler = async (orgId, message, source) => {
    messagesReceived.inc({ source });
    logger.info({ orgId, chatId: message.chatId, messageId: message.id, source }, "new Teams message");
    const detection = await detector.detect(orgId, message, clock.now());
    if (detection.emergency) {
      // Ids only: the message text is the caller's, and logs are not where it belongs.
      logger.warn(
        {
          orgId,
          chatId: detection.value.chatId,
          messageId: detection.value.messageId,
          ruleId: detection.ruleId,
          isTest: detection.value.isTest,
          source,
        },
        "emergency call detected",
      );
      // Stored (with its first deliveries) before this returns, so a failure here retries the hand-off.
      const raised = await raiser.raise(orgId, detection);
      alertWork.add(raised.sent);
      void raised.sent.finally(() => alertWork.delete(raised.sent));
    }
  };
  const reconciler = createMessageReconciler({
    graph: graphClient,
    seen,
    watermarks: new PollWatermarkStore(db),
    onNewMessage,
    events: loggedEvents,
    clock,
    limiter,
    jobs,
    intervalMs: config.pollIntervalMs,
    sleep: (ms) => sleep(ms),
  });
  const requestResync = async (orgId: string, reason: string) => {
    await loggedEvents.append({
      orgId,
      kind: "resync_requested",
      severity: "info",
      message: `Notifications may have been missed (${reason}); polling runs now.`,
      details: { reason },
    });
    await reconciler.requestSoon(orgId);
  };
  const subscriptionKeeper = createSubscriptionKeeper({
    clock,
    publicUrl,
    orgs,
    connections,
    subscriptions,
    certificates,
    graph,
    tokens: keeper,
    lock,
    events: loggedEvents,
    jobs,
    requestResync,
  });
  const worker = createInboxWorker({
    leaseMs: config.workLeaseMs,
    inbox,
    subscriptions,
    keyring: certificates,
    verifier: createValidationTokenVerifier({
      jwksUrl: config.jwksUrl,
      ...(microsoftCaPem ? { extraCaPem: microsoftCaPem } : {}),
      timeoutMs: config.microsoftTimeoutMs,
      now: () => clock.now(),
    }),
    decrypt: decryptRichNotification,
    graph: graphClient,
    orgApps: async () =>
      (await orgs.list()).flatMap((o) =>
        o.clientId && o.tenantId ? [{ orgId: o.id, clientId: o.clientId, tenantId: o.tenantId }] : [],
      ),
    seen,
    onNewMessage,
    onLifecycle: (subscriptionId, event) => subscriptionKeeper.handleLifecycle(subscriptionId, event),
    clock,
    owner,
    events: loggedEvents,
    limiter,
    sleep: (ms) => sleep(ms),
  });
  let stopping = false;
  let draining: Promise<number> | undefined;
  let drainAgain = false;
  /** Runs the worker until the inbox has nothing due; concurrent wake-ups fold into one more pass. */
  const drainInbox = (): Promise<number> => {
    if (draining) {
      drainAgain = true;
      return draining;
    }
    draining = (async () => {
      let total = 0;
      do {
        drainAgain = false;
        for (let ran = 1; ran > 0 && !stopping; total += ran) ran = await worker.runOnce();
      } while (drainAgain && !stopping);
      return total;
    })().finally(() => {
      draining = undefined;
    });
    return draining;
  };
  const wakeInbox = () => {
    if (!stopping)
      drainInbox().catch((error: unknown) => logger.error({ err: error }, "inbox worker failed; retrying"));
  };
  // --- end of intake wiring ---

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
    // A connect (or reconnect) gets its subscription checked or created right away; a Graph failure there is
    // retried by the job and never fails the connect.
    // Polling starts too: it covers the time before the subscription exists, then runs every 5 minutes.
    onConnected: async (orgId) => {
      await subscriptionKeeper.scheduleEnsure(orgId);
      await reconciler.requestSoon(orgId);
    },
  });

  const scheduler = createJobScheduler({
    store: jobs,
    clock,
    owner,
    // Extended while a job runs: a dead instance's jobs go to another one within this, a live one keeps its own.
    leaseMs: config.workLeaseMs,
    handlers: {
      [JOB_TOKEN_REFRESH]: async (job) => {
        await keeper.refresh(job.orgId!, "scheduled");
      },
      [JOB_TOKEN_HEALTH]: (job) => keeper.runHealthRefresh(job.orgId!),
      [JOB_SECRET_SWEEP]: async () => {
        await keeper.sweepSecretExpiry();
        // Abandoned sign-ins leave their state rows behind; the daily sweep removes the expired ones.
        await pending.purgeExpired(clock.now());
        // Web sessions nobody came back to, and sign-in failure counters past their window.
        await webSessions.purgeExpired(
          clock.now() - config.sessionAbsoluteMs,
          clock.now() - config.sessionIdleMs,
        );
        await loginThrottle.purge(clock.now() - 86_400_000);
        // Drill captures hold message content; they go a week after their drill (the admin API purges too).
        await drills.purgeCapturesEndedBefore(clock.now() - DRILL_CAPTURE_RETENTION_MS, clock.now());
        // What the intake keeps only for dedupe: finished inbox rows, their validation tokens, seen messages.
        await inbox.purgeFinishedBefore(clock.now() - INBOX_RETENTION_MS);
        await seen.purgeSeenBefore(clock.now() - SEEN_MESSAGE_RETENTION_MS);
      },
      [JOB_SUBSCRIPTION_ENSURE]: (job) => subscriptionKeeper.ensure(job.orgId!),
      [JOB_SUBSCRIPTION_RENEW]: (job) => subscriptionKeeper.renew(job.orgId!),
      [JOB_SUBSCRIPTION_EXPIRY_CHECK]: (job) => subscriptionKeeper.checkExpiry(job.orgId!),
      [JOB_RECONCILE_MESSAGES]: async (job) => {
        await reconciler.runJob(job.orgId!);
      },
      // Alert jobs carry the delivery or emergency id after the kind: `alert.deliver:<id>`.
      [JOB_ALERT_DELIVER]: (job) => outboxWorker.runJob(job.dedupeKey!.slice(job.kind.length + 1)),
      [JOB_ALERT_ESCALATE]: (job) => escalator.runJob(job.dedupeKey!.slice(job.kind.length + 1)),
    },
    onError: (job, error) =>
      logger.error({ job: job.kind, orgId: job.orgId, err: error }, "job failed; retrying with backoff"),
  });

  // One registry behind /metrics: the process defaults and the relay's own counters (notifications received).
  const metricsRegistry = new Registry();
  const app = createHttpApp({
    logger,
    trustProxy: config.trustProxy,
    checkStorage: async () => {
      await sql`select 1`.execute(db);
    },
    jobsRunning: () => !stopping && (options.jobIntervalMs === false || scheduler.isRunning()),
    registry: metricsRegistry,
    ...(config.tls
      ? {
          https: {
            cert: await readFile(config.tls.certFile, "utf8"),
            key: await readFile(config.tls.keyFile, "utf8"),
            // Renewed certificates are picked up without a restart (src/http/certificate-reloader.ts).
            watch: { certFile: config.tls.certFile, keyFile: config.tls.keyFile },
          },
        }
      : {}),
  });
  installErrorHandler(app);
  registerApiAudit(app, audit);
  const admin = requireAdmin((token) => verifyAdminToken(db, token));
  registerOrgRoutes(app, {
    orgs,
    publicUrl,
    requireAdmin: admin,
    onOrgUpdated: async (org, fields) => {
      // A new webhook URL or notification mode needs a new Graph subscription; the keeper replaces it.
      if (fields.includes("webhookBaseUrl") || fields.includes("notificationMode"))
        await subscriptionKeeper.scheduleEnsure(org.id);
    },
  });
  registerDetectionRoutes(app, {
    rules: detectionRules,
    drills,
    orgExists: async (orgId) => (await orgs.get(orgId)) !== undefined,
    clock,
    requireAdmin: admin,
  });
  registerConnectRoutes(app, {
    connect,
    keeper,
    requireAdmin: admin,
    orgName: async (id) => (await orgs.get(id))?.name,
    events,
    subscriptionStatus: (orgId) => subscriptionKeeper.subscriptionStatus(orgId),
    messageCounts: (orgId) => seen.countBySource(orgId),
  });
  registerGraphNotificationRoutes(app, {
    clock,
    // The worker looks each item's subscription up again, uncached, and drops items of removed ones.
    subscriptions: cacheSubscriptionLookup(subscriptions, { now: () => clock.now() }),
    // Group commit (docs/benchmarks.md): concurrent webhook requests' items go into one inbox transaction (one
    // fsync); each request still gets its 202 only after that commit, and a 503 when it failed. Routes only.
    // The SQLite writer thread merges whatever queued up while it committed, so small groups are handed over
    // early (4 items) rather than once per event-loop turn: the thread, the busiest stage, starts sooner.
    inbox: inboxWriter
      ? createGroupCommitWriter(inboxWriter, { maxInFlight: 64, maxItems: 4 })
      : createGroupCommitWriter(inbox),
    metrics: createNotificationMetrics(metricsRegistry),
    onStored: options.wakeInboxOnDelivery === false ? undefined : wakeInbox,
    ...(config.graphAllowedCidrs.length > 0
      ? { allowedSources: createCidrMatcher(config.graphAllowedCidrs) }
      : {}),
  });
  registerEmergencyRoutes(app, {
    emergencies,
    outbox,
    acknowledger,
    worker: outboxWorker,
    clock,
    requireAdmin: admin,
  });
  registerAckRoutes(app, { acknowledger });
  const testSender = createTestAlertSender({
    channels: alertChannels,
    orgs,
    drivers,
    clock,
    testMessage: testAlertMessage,
  });
  registerAlertConfigRoutes(app, {
    orgs,
    channels: alertChannels,
    policies: alertPolicies,
    templates: alertTemplates,
    drivers,
    testSender,
    clock,
    publicUrl,
    requireAdmin: admin,
  });
  registerWebApp(app, {
    clock,
    publicUrl,
    loginBaseUrl: config.loginBaseUrl,
    inbound: { port: config.port, tls: config.tls !== undefined },
    sessionLifetime: { idleMs: config.sessionIdleMs, absoluteMs: config.sessionAbsoluteMs },
    accounts,
    sessions: webSessions,
    loginThrottle,
    audit,
    hasher,
    orgs,
    onOrgUpdated: async (org, fields) => {
      if (fields.includes("webhookBaseUrl") || fields.includes("notificationMode"))
        await subscriptionKeeper.scheduleEnsure(org.id);
    },
    connect,
    tokens: keeper,
    subscriptions: {
      status: (orgId) => subscriptionKeeper.subscriptionStatus(orgId),
      renew: (orgId) => subscriptionKeeper.renew(orgId),
    },
    messageCounts: (orgId) => seen.countBySource(orgId),
    events,
    runChecks: createOrgChecks({
      clock,
      publicUrl,
      loginBaseUrl: config.loginBaseUrl,
      graphBaseUrl: config.graphBaseUrl,
      ...(microsoftCaPem ? { extraCaPem: microsoftCaPem } : {}),
      ...(config.tls ? { certFile: config.tls.certFile } : {}),
      orgState: async (orgId) => {
        const org = await orgs.get(orgId);
        if (org === undefined) return undefined;
        return {
          org,
          connection: await connections.get(orgId),
          subscriptions: await subscriptions.listByOrg(orgId),
        };
      },
    }),
    alerting: {
      feed: emergencyFeed,
      emergencies,
      deliveries: outbox,
      acknowledger,
      channels: alertChannels,
      policies: alertPolicies,
      templates: alertTemplates,
      drivers,
      testSender,
      ...(options.board?.heartbeatMs ? { heartbeatMs: options.board.heartbeatMs } : {}),
    },
  });
  options.extraRoutes?.(app);
  metricsRegistry.registerMetric(messagesReceived);
  metricsRegistry.registerMetric(alertAttempts);
  metricsRegistry.registerMetric(alertFirstRequest);

  await keeper.ensureScheduled();
  // Start-up reconciliation: every connected org's stored subscription is checked with Graph (or created).
  await subscriptionKeeper.reconcileAtStartup();
  // Polling at start-up finds what arrived while the relay was down; then every 5 minutes per org.
  const connectedOrgIds: string[] = [];
  for (const org of await orgs.list()) if (await connections.get(org.id)) connectedOrgIds.push(org.id);
  await reconciler.scheduleAtStartup(connectedOrgIds);
  // Deliveries a crash left pending get their jobs back; due ones go out at once.
  await outboxWorker.recover();
  await app.listen({ host: config.host, port: config.port });
  await changePoller.pollOnce();
  if (options.board?.pollIntervalMs !== false) changePoller.start();
  let inboxTimer: NodeJS.Timeout | undefined;
  if (options.jobIntervalMs !== false) {
    scheduler.start(options.jobIntervalMs ?? 1000);
    // Items put back for a retry (Graph throttling, storage hiccups) come due later: look for them every second.
    inboxTimer = setInterval(wakeInbox, 1000);
    inboxTimer.unref();
    wakeInbox();
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  logger.info({ engine: storage.engine, port, encryptionKey: keySource }, "relay listening");
  return {
    url: `${config.tls ? "https" : "http"}://${host}:${port}`,
    ...(generatedToken ? { generatedAdminToken: generatedToken } : {}),
    ...(firstAdmin ? { firstAdmin } : {}),
    scheduler,
    nextJobAt: () => jobs.nextRunAt(),
    listJobs: () => jobs.list(),
    intake: {
      inbox,
      keyring: certificates,
      subscriptions,
      handleLifecycle: (subscriptionId, event) => subscriptionKeeper.handleLifecycle(subscriptionId, event),
      subscriptionKeeper,
      graph: graphClient,
      processInbox: drainInbox,
      reconciler,
    },
    alerting: {
      emergencies,
      outbox,
      worker: outboxWorker,
      raiser,
      feed: emergencyFeed,
      changePoller,
      async idle() {
        while (alertWork.size > 0) await Promise.allSettled([...alertWork]);
        await outboxWorker.idle();
      },
    },
    async close() {
      // SIGTERM: /readyz says 503 from now on; new connections are refused (a load balancer sends them to another
      // instance) while requests in flight finish.
      stopping = true;
      await app.close();
      if (inboxTimer) clearInterval(inboxTimer);
      worker.stop();
      // Work in hand finishes (alert sends get their channel timeout); what was claimed and not started goes back.
      await Promise.all([
        draining?.catch(() => {}),
        scheduler.stop(),
        changePoller.stop(),
        outboxWorker.close({ graceMs: config.channelTimeoutMs }),
        Promise.allSettled([...alertWork]),
      ]);
      // Whatever this instance still holds is free for the others now, not after its lease.
      await Promise.all([
        jobs.releaseAllOf(owner),
        inbox.releaseAllOf(owner),
        leases.releaseAllOf(owner),
      ]).catch((error: unknown) =>
        logger.error({ err: error }, "could not release every claim; they expire with their lease"),
      );
      await inboxWriter?.close();
      await storage.close();
    },
  };
}
