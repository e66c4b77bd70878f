import type { Clock } from "../core/clock.ts";
import type { Connection, ConnectionState } from "../core/connection.ts";
import { RelayError } from "../core/errors.ts";
import type {
  ConnectionRepository,
  EventSink,
  IdentityProvider,
  JobQueue,
  OrgLock,
  OrgRepository,
  TokenCacheRepository,
} from "../core/ports.ts";
import { classifyTokenFailure, type FailureBucket } from "../core/token-failure.ts";
import {
  HEALTH_REFRESH_INTERVAL_MS,
  refreshDueAt,
  retryDelayMs,
  secretExpiryNotice,
} from "../core/token-refresh-policy.ts";

export const JOB_TOKEN_REFRESH = "token.refresh";
export const JOB_TOKEN_HEALTH = "token.health";
export const JOB_SECRET_SWEEP = "secret.sweep";
const SECRET_SWEEP_INTERVAL_MS = 24 * 3_600_000;
/** Defects (LoopDetected, malformed requests) are not fixed by retrying fast; try again hourly so a fix is picked up. */
const DEFECT_RETRY_MS = 3_600_000;
const DAY_MS = 86_400_000;

export type RefreshReason = "scheduled" | "health" | "manual";

export interface ConnectionStatus {
  connection: {
    state: ConnectionState;
    user: { id: string; userPrincipalName: string; displayName: string | null } | null;
    accessTokenExpiresAt: string | null;
    lastRefreshAt: string | null;
    consecutiveFailures: number;
    lastError?: { bucket: FailureBucket; aadsts: number | null; message: string };
  };
  clientSecret: { expiresAt: string | null; daysLeft: number | null };
}

export interface TokenKeeper {
  /** Refreshes now under the org's lock; returns the connection afterwards (undefined when never connected). */
  refresh(orgId: string, reason: RefreshReason): Promise<Connection | undefined>;
  /** After a connect or a successful refresh: the next refresh ahead of expiry, and the daily health refresh. */
  scheduleAfterSuccess(orgId: string, accessTokenExpiresAt: number): Promise<void>;
  runHealthRefresh(orgId: string): Promise<void>;
  sweepSecretExpiry(): Promise<void>;
  status(orgId: string): Promise<ConnectionStatus>;
  /** Start-up: make sure every connected org and the secret sweep have their timers. */
  ensureScheduled(): Promise<void>;
  /** A delegated Graph access token valid for at least a few more minutes, refreshing first when needed. */
  accessToken(orgId: string): Promise<string>;
}

/** Graph calls get a token with at least this much life left. */
const ACCESS_TOKEN_MIN_REMAINING_MS = 5 * 60_000;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function createTokenKeeper(deps: {
  clock: Clock;
  orgs: OrgRepository;
  connections: ConnectionRepository;
  tokenCaches: TokenCacheRepository;
  identity: IdentityProvider;
  lock: OrgLock;
  events: EventSink;
  jobs: JobQueue & {
    ensure(
      job: { kind: string; orgId?: string | null; dedupeKey: string; runAt: number },
      now: number,
    ): Promise<void>;
  };
  random?: () => number;
}): TokenKeeper {
  const refreshKey = (orgId: string) => `${JOB_TOKEN_REFRESH}:${orgId}`;
  const healthKey = (orgId: string) => `${JOB_TOKEN_HEALTH}:${orgId}`;

  /** The org's app registration with its clear secret, for one token request. */
  async function loadApp(
    orgId: string,
  ): Promise<{ tenantId: string; clientId: string; clientSecret: string }> {
    const org = await deps.orgs.get(orgId);
    const clientSecret = org ? await deps.orgs.readClientSecret(orgId) : undefined;
    if (!org?.tenantId || !org.clientId || !clientSecret) {
      throw new RelayError(
        "ERR_ORG_INCOMPLETE",
        `Org ${orgId} lost its app registration values; cannot get a token.`,
      );
    }
    return { tenantId: org.tenantId, clientId: org.clientId, clientSecret };
  }

  async function scheduleRefresh(orgId: string, runAt: number) {
    await deps.jobs.schedule(
      { kind: JOB_TOKEN_REFRESH, orgId, dedupeKey: refreshKey(orgId), runAt },
      deps.clock.now(),
    );
  }

  async function recordFailure(connection: Connection, error: unknown): Promise<Connection> {
    const failure = deps.identity.failureOf(error);
    if (!failure) throw error;
    const now = deps.clock.now();
    const { bucket, reason } = classifyTokenFailure(failure);
    const failures = connection.consecutiveFailures + 1;
    const state: ConnectionState =
      bucket === "reauth" ? "needs_reauth" : bucket === "admin" ? "misconfigured" : "retrying";
    const updated: Connection = {
      ...connection,
      state,
      consecutiveFailures: failures,
      lastError: { bucket, aadsts: failure.aadsts ?? null, message: reason },
      updatedAt: now,
    };
    await deps.connections.save(updated);
    const details = {
      bucket,
      aadsts: failure.aadsts ?? null,
      status: failure.status ?? null,
      attempt: failures,
    };
    if (bucket === "reauth") {
      await deps.jobs.unschedule(refreshKey(connection.orgId));
      await deps.events.append({
        orgId: connection.orgId,
        kind: "reauth_required",
        severity: "critical",
        message: `The service user ${connection.userPrincipalName} must sign in again: ${reason}`,
        details,
      });
    } else if (bucket === "admin") {
      await deps.jobs.unschedule(refreshKey(connection.orgId));
      await deps.events.append({
        orgId: connection.orgId,
        kind: "refresh_failed",
        severity: "critical",
        message: `Token refresh failed and needs an administrator: ${reason}`,
        details,
      });
    } else {
      const delay =
        bucket === "defect" ? DEFECT_RETRY_MS : retryDelayMs(failures, failure.retryAfterMs, deps.random);
      await scheduleRefresh(connection.orgId, now + delay);
      // The first failure and every fifth after it are recorded, so a long outage is visible without flooding.
      if (failures === 1 || failures % 5 === 0 || bucket === "defect") {
        await deps.events.append({
          orgId: connection.orgId,
          kind: "refresh_failed",
          severity: bucket === "defect" || failures >= 5 ? "error" : "warning",
          message: `Token refresh failed (attempt ${failures}), retrying in ${Math.round(delay / 1000)} s: ${reason}`,
          details: { ...details, retryInMs: delay },
        });
      }
    }
    return updated;
  }

  const keeper: TokenKeeper = {
    async refresh(orgId, reason) {
      return deps.lock.withLock(`token:${orgId}`, async () => {
        const connection = await deps.connections.get(orgId);
        if (!connection) return undefined;
        // Human and admin cases stop retrying until someone acts ("test connection" or a reconnect).
        if (
          reason !== "manual" &&
          (connection.state === "needs_reauth" || connection.state === "misconfigured")
        )
          return connection;
        const app = await loadApp(orgId);
        let tokens;
        try {
          tokens = await deps.identity.refresh(
            app,
            deps.tokenCaches.persistenceFor(orgId),
            connection.homeAccountId,
          );
        } catch (error) {
          return recordFailure(connection, error);
        }
        const now = deps.clock.now();
        const updated: Connection = {
          ...connection,
          state: "connected",
          accessTokenExpiresAt: tokens.accessTokenExpiresAt,
          lastRefreshAt: now,
          consecutiveFailures: 0,
          lastError: null,
          updatedAt: now,
        };
        await deps.connections.save(updated);
        if (connection.state !== "connected") {
          await deps.events.append({
            orgId,
            kind: "refresh_recovered",
            severity: "info",
            message: `Token refresh works again for ${connection.userPrincipalName}.`,
            details: { previousState: connection.state, reason },
          });
        }
        await scheduleRefresh(orgId, refreshDueAt(tokens.accessTokenExpiresAt));
        return updated;
      });
    },

    async scheduleAfterSuccess(orgId, accessTokenExpiresAt) {
      const now = deps.clock.now();
      await scheduleRefresh(orgId, refreshDueAt(accessTokenExpiresAt));
      await deps.jobs.schedule(
        {
          kind: JOB_TOKEN_HEALTH,
          orgId,
          dedupeKey: healthKey(orgId),
          runAt: now + HEALTH_REFRESH_INTERVAL_MS,
        },
        now,
      );
    },

    async runHealthRefresh(orgId) {
      // A forced refresh at least daily keeps the 90-day refresh-token window open and finds revocations early
      // (https://learn.microsoft.com/entra/identity-platform/refresh-tokens).
      await keeper.refresh(orgId, "health");
      const now = deps.clock.now();
      await deps.jobs.schedule(
        {
          kind: JOB_TOKEN_HEALTH,
          orgId,
          dedupeKey: healthKey(orgId),
          runAt: now + HEALTH_REFRESH_INTERVAL_MS,
        },
        now,
      );
    },

    async sweepSecretExpiry() {
      const now = deps.clock.now();
      for (const org of await deps.orgs.list()) {
        const notice = secretExpiryNotice(org.clientSecretExpiresAt, org.secretExpiryWarnedDays, now);
        if (!notice) continue;
        await deps.events.append(
          notice.kind === "expired"
            ? {
                orgId: org.id,
                kind: "secret_expired",
                severity: "critical",
                message: `The client secret of ${org.name} expired on ${iso(org.clientSecretExpiresAt)}: create a new one in Azure and enter it.`,
                details: { expiresAt: iso(org.clientSecretExpiresAt) },
              }
            : {
                orgId: org.id,
                kind: "secret_expiring",
                severity: notice.days <= 7 ? "error" : "warning",
                message: `The client secret of ${org.name} expires in ${notice.days} day${notice.days === 1 ? "" : "s"} (${iso(org.clientSecretExpiresAt)}).`,
                details: { daysLeft: notice.days, expiresAt: iso(org.clientSecretExpiresAt) },
              },
        );
        // Passing the expiry it was computed from: an admin entering a new date meanwhile keeps its own warnings.
        await deps.orgs.markSecretExpiryWarned(org.id, notice.days, org.clientSecretExpiresAt);
      }
      await deps.jobs.schedule(
        { kind: JOB_SECRET_SWEEP, dedupeKey: JOB_SECRET_SWEEP, runAt: now + SECRET_SWEEP_INTERVAL_MS },
        now,
      );
    },

    async status(orgId) {
      const org = await deps.orgs.get(orgId);
      if (!org) throw new RelayError("ERR_NOT_FOUND", `No org ${orgId}.`);
      const connection = await deps.connections.get(orgId);
      const now = deps.clock.now();
      const expiresAt = org.clientSecretExpiresAt;
      return {
        connection: {
          state: connection?.state ?? "disconnected",
          user: connection
            ? {
                id: connection.userId,
                userPrincipalName: connection.userPrincipalName,
                displayName: connection.userDisplayName,
              }
            : null,
          accessTokenExpiresAt: iso(connection?.accessTokenExpiresAt ?? null),
          lastRefreshAt: iso(connection?.lastRefreshAt ?? null),
          consecutiveFailures: connection?.consecutiveFailures ?? 0,
          ...(connection?.lastError ? { lastError: connection.lastError } : {}),
        },
        clientSecret: {
          expiresAt: iso(expiresAt),
          daysLeft: expiresAt === null ? null : Math.floor((expiresAt - now) / DAY_MS),
        },
      };
    },

    async accessToken(orgId) {
      let connection = await deps.connections.get(orgId);
      if (!connection) throw new RelayError("ERR_ORG_INCOMPLETE", `Org ${orgId} is not connected.`);
      const usable = () => connection!.state === "connected" || connection!.state === "retrying";
      if (!usable())
        throw new RelayError(
          "ERR_TOKEN_REFRESH",
          `Org ${orgId} needs attention (${connection.state}): ${connection.lastError?.message ?? ""}`,
        );
      const now = deps.clock.now();
      if (
        connection.accessTokenExpiresAt === null ||
        connection.accessTokenExpiresAt - now < ACCESS_TOKEN_MIN_REMAINING_MS
      ) {
        connection = (await keeper.refresh(orgId, "scheduled")) ?? connection;
        if (connection.state !== "connected") {
          throw new RelayError(
            "ERR_TOKEN_REFRESH",
            `Org ${orgId} has no valid access token (${connection.state}): ${connection.lastError?.message ?? ""}`,
          );
        }
      }
      const app = await loadApp(orgId);
      const homeAccountId = connection.homeAccountId;
      return deps.lock.withLock(`token:${orgId}`, async () => {
        try {
          const tokens = await deps.identity.currentAccessToken(
            app,
            deps.tokenCaches.persistenceFor(orgId),
            homeAccountId,
          );
          return tokens.accessToken;
        } catch (error) {
          if (!deps.identity.failureOf(error)) throw error;
          throw new RelayError(
            "ERR_TOKEN_REFRESH",
            `Could not read the access token of org ${orgId}; a refresh is scheduled.`,
          );
        }
      });
    },

    async ensureScheduled() {
      const now = deps.clock.now();
      await deps.jobs.ensure({ kind: JOB_SECRET_SWEEP, dedupeKey: JOB_SECRET_SWEEP, runAt: now }, now);
      for (const org of await deps.orgs.list()) {
        const connection = await deps.connections.get(org.id);
        if (!connection || connection.state === "needs_reauth" || connection.state === "misconfigured")
          continue;
        await deps.jobs.ensure(
          {
            kind: JOB_TOKEN_REFRESH,
            orgId: org.id,
            dedupeKey: refreshKey(org.id),
            runAt: refreshDueAt(connection.accessTokenExpiresAt ?? now),
          },
          now,
        );
        await deps.jobs.ensure(
          {
            kind: JOB_TOKEN_HEALTH,
            orgId: org.id,
            dedupeKey: healthKey(org.id),
            runAt: now + HEALTH_REFRESH_INTERVAL_MS,
          },
          now,
        );
      }
    },
  };
  return keeper;
}
