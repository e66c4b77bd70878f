// Keeps exactly one Graph subscription per connected org alive: create (adopting a 409 that is provably ours),
// renew ahead of expiry, answer lifecycle events, rotate the encryption certificate, reconcile at start-up.
// Protocol: reference/graph-change-notifications.md §2 (lifetime, create/renew/reauthorize, 409), §5.1
// (rotation), §7 (lifecycle events) and §12 items 6, 7 and 9.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../core/clock.ts";
import type { Connection } from "../core/connection.ts";
import { RelayError } from "../core/errors.ts";
import type { LifecycleHandler } from "../core/intake-ports.ts";
import type { EventSink, JobQueue, OrgLock, OrgRepository, ConnectionRepository } from "../core/ports.ts";
import type {
  CertificateRepository,
  EncryptionCertificateInfo,
  GraphFailure,
  GraphPort,
  Subscription,
  SubscriptionRepository,
} from "../core/subscription.ts";
import {
  CLIENT_STATE_BYTES,
  REAUTHORIZE_MIN_TOKEN_LIFE_MS,
  SUBSCRIPTION_CHANGE_TYPE,
  SUBSCRIPTION_RESOURCE,
  certificateNeedsRotation,
  conflictingSubscriptionId,
  expiryCheckAt,
  expiryWarning,
  renewDueAt,
  renewalRetryAt,
  requestedExpiration,
  webhookUrls,
} from "../core/subscription-policy.ts";

export const JOB_SUBSCRIPTION_ENSURE = "subscription.ensure";
export const JOB_SUBSCRIPTION_RENEW = "subscription.renew";
export const JOB_SUBSCRIPTION_EXPIRY_CHECK = "subscription.expiry_check";

/** A lifecycle event whose handling failed is retried by the renew/ensure jobs, not by redelivering the item. */
const LIFECYCLE_RETRY_MS = 30_000;

export interface SubscriptionStatus {
  /** Graph's id; null while a creation is pending (it failed and is being retried). */
  id: string | null;
  resource: string;
  expiresAt: string | null;
  lastRenewedAt: string | null;
  lastNotificationAt: string | null;
  state: "active" | "failing" | "pending";
  lastError?: string;
}

export interface SubscriptionKeeper {
  /** Makes sure the org has its one live subscription: checks the stored one with Graph, or creates one. */
  ensure(orgId: string): Promise<void>;
  /** PATCHes a new expiry (and a rotated certificate when due); a failure is recorded and retried by this job. */
  renew(orgId: string): Promise<void>;
  /** Raises `subscription_expiring` when renewals kept failing and the expiry is near. */
  checkExpiry(orgId: string): Promise<void>;
  /**
   * `reauthorizationRequired` -> one PATCH; `subscriptionRemoved` -> a new subscription and a resync;
   * `missed` -> a resync.
   */
  handleLifecycle: LifecycleHandler;
  /** An `ensure` as soon as the job runner gets to it (after a connect). */
  scheduleEnsure(orgId: string): Promise<void>;
  /** Start-up: an immediate `ensure` for every connected org. */
  reconcileAtStartup(): Promise<void>;
  subscriptionStatus(orgId: string): Promise<SubscriptionStatus[]>;
}

/** The subscription as Graph returns it (the fields the keeper reads). */
interface GraphSubscription {
  id: string;
  resource?: string;
  changeType?: string;
  clientState?: string | null;
  notificationUrl?: string;
  lifecycleNotificationUrl?: string | null;
  expirationDateTime: string;
  includeResourceData?: boolean;
  encryptionCertificateId?: string | null;
}

export interface SubscriptionKeeperDeps {
  clock: Clock;
  /** RELAY_PUBLIC_URL: the webhook base when the org has no `webhookBaseUrl`. */
  publicUrl: string;
  orgs: OrgRepository;
  connections: ConnectionRepository;
  subscriptions: SubscriptionRepository;
  certificates: CertificateRepository;
  graph: GraphPort;
  /** The token keeper: a fresh delegated token before answering `reauthorizationRequired`. */
  tokens: { refresh(orgId: string, reason: "scheduled"): Promise<Connection | undefined> };
  lock: OrgLock;
  events: EventSink;
  jobs: JobQueue;
  /** Polling picks up what notifications may have missed (subscription replaced, `missed`). */
  requestResync(orgId: string, reason: string): Promise<void>;
  randomClientState?: () => string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const usable = (connection: Connection | undefined): connection is Connection =>
  connection !== undefined && (connection.state === "connected" || connection.state === "retrying");

function sameSecret(a: string, b: string): boolean {
  // Digests first: equal lengths for timingSafeEqual, and nothing about the length leaks either.
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** The token keeper could not give a token (the org needs a reconnect, or its refresh is failing). */
function isTokenUnavailable(error: unknown): boolean {
  return (
    error instanceof RelayError && (error.code === "ERR_TOKEN_REFRESH" || error.code === "ERR_ORG_INCOMPLETE")
  );
}

/** Throttling, Graph outages and network trouble pass; anything else needs someone to look. */
function isRetryable(failure: GraphFailure): boolean {
  return (
    failure.transport !== null || failure.status === 429 || (failure.status !== null && failure.status >= 500)
  );
}

function sameResource(a: string | undefined, b: string): boolean {
  const normalize = (r: string) => r.replace(/^\/+/, "").toLowerCase();
  return a !== undefined && normalize(a) === normalize(b);
}

export function createSubscriptionKeeper(deps: SubscriptionKeeperDeps): SubscriptionKeeper {
  const renewKey = (orgId: string) => `${JOB_SUBSCRIPTION_RENEW}:${orgId}`;
  const checkKey = (orgId: string) => `${JOB_SUBSCRIPTION_EXPIRY_CHECK}:${orgId}`;
  const ensureKey = (orgId: string) => `${JOB_SUBSCRIPTION_ENSURE}:${orgId}`;
  const newClientState =
    deps.randomClientState ?? (() => randomBytes(CLIENT_STATE_BYTES).toString("base64url"));
  const locked = <T>(orgId: string, fn: () => Promise<T>) => deps.lock.withLock(`subscription:${orgId}`, fn);

  function describe(error: unknown): string {
    const failure = deps.graph.failureOf(error);
    if (failure) return failure.message;
    return error instanceof Error ? error.message : String(error);
  }

  function retryAfterOf(error: unknown): number {
    return Math.max(LIFECYCLE_RETRY_MS, deps.graph.failureOf(error)?.retryAfterMs ?? 0);
  }

  /** Where and how Graph should notify for this org: its webhook URLs and whether notifications are rich. */
  async function webhookTargets(orgId: string) {
    const org = await deps.orgs.get(orgId);
    if (!org) return undefined;
    // Graph requires https in production; the emulator may allow http. Graph decides, not this code.
    return { ...webhookUrls(org.webhookBaseUrl ?? deps.publicUrl), rich: org.notificationMode !== "basic" };
  }

  async function scheduleTimers(subscription: Subscription): Promise<void> {
    const now = deps.clock.now();
    await deps.jobs.schedule(
      {
        kind: JOB_SUBSCRIPTION_RENEW,
        orgId: subscription.orgId,
        dedupeKey: renewKey(subscription.orgId),
        runAt: renewDueAt(subscription.expiresAt, now),
      },
      now,
    );
    const checkAt = expiryCheckAt(subscription.expiresAt, now);
    if (checkAt === undefined) await deps.jobs.unschedule(checkKey(subscription.orgId));
    else
      await deps.jobs.schedule(
        {
          kind: JOB_SUBSCRIPTION_EXPIRY_CHECK,
          orgId: subscription.orgId,
          dedupeKey: checkKey(subscription.orgId),
          runAt: checkAt,
        },
        now,
      );
  }

  /**
   * Without a Graph failure (no usable token; or a local error, which the job log shows) or with a 401 (Graph
   * refused the token) the token is the problem: the token keeper's state and events say why. A 401 makes it
   * refresh now, so a revoked grant is found and reported at once instead of at the next scheduled refresh.
   */
  async function isTokenProblem(orgId: string, failure: GraphFailure | undefined): Promise<boolean> {
    if (!failure) return true;
    if (failure.status !== 401) return false;
    try {
      await deps.tokens.refresh(orgId, "scheduled");
    } catch {
      // The refresh records its own failure; the subscription's last error already says what happened here.
    }
    return true;
  }

  /** Records a failed Graph operation on the subscription; the first failure of a streak raises an event. */
  async function recordFailure(subscription: Subscription, operation: string, error: unknown): Promise<void> {
    const now = deps.clock.now();
    const failure = deps.graph.failureOf(error);
    await deps.subscriptions.update(
      subscription.id,
      { state: "failing", lastError: `${operation}: ${describe(error)}` },
      now,
    );
    if (await isTokenProblem(subscription.orgId, failure)) return;
    if (failure && subscription.state !== "failing") {
      await deps.events.append({
        orgId: subscription.orgId,
        kind: "subscription_renewal_failed",
        severity: isRetryable(failure) ? "warning" : "error",
        message: `Keeping the Graph subscription failed (${operation}); retrying with backoff: ${failure.message}`,
        details: {
          subscriptionId: subscription.id,
          operation,
          status: failure.status,
          code: failure.code,
          expiresAt: iso(subscription.expiresAt),
        },
      });
    }
  }

  /** Graph's 409 named an existing subscription: adopt it when it is provably ours, otherwise delete it. */
  async function resolveConflict(
    orgId: string,
    conflict: unknown,
    wanted: { notificationUrl: string; lifecycleNotificationUrl: string; clientState: string },
  ): Promise<{ subscription: GraphSubscription; adopted: boolean } | undefined> {
    let existingId = conflictingSubscriptionId(deps.graph.failureOf(conflict)?.message ?? "");
    if (!existingId) {
      const list = await deps.graph.request<{ value?: GraphSubscription[] }>(orgId, "GET", "/subscriptions");
      existingId = (list.body.value ?? []).find(
        (s) => sameResource(s.resource, SUBSCRIPTION_RESOURCE) && s.changeType === SUBSCRIPTION_CHANGE_TYPE,
      )?.id;
    }
    if (!existingId) return undefined;
    let existing: GraphSubscription | undefined;
    try {
      existing = (
        await deps.graph.request<GraphSubscription>(
          orgId,
          "GET",
          `/subscriptions/${encodeURIComponent(existingId)}`,
        )
      ).body;
    } catch (error) {
      if (deps.graph.failureOf(error)?.status !== 404) throw error;
    }
    if (
      existing &&
      typeof existing.clientState === "string" &&
      sameSecret(existing.clientState, wanted.clientState) &&
      existing.notificationUrl === wanted.notificationUrl &&
      existing.lifecycleNotificationUrl === wanted.lifecycleNotificationUrl
    ) {
      return { subscription: existing, adopted: true };
    }
    // Not provably ours (another clientState, or URLs it can no longer be given): a stale one would block ours.
    if (existing) {
      try {
        await deps.graph.request(orgId, "DELETE", `/subscriptions/${encodeURIComponent(existingId)}`);
      } catch (error) {
        if (deps.graph.failureOf(error)?.status !== 404) throw error;
      }
    }
    return undefined;
  }

  async function currentCertificate(orgId: string, now: number): Promise<EncryptionCertificateInfo> {
    const current = await deps.certificates.current(orgId);
    if (current && !certificateNeedsRotation(current.notAfter, now)) return current;
    const created = await deps.certificates.create(orgId, now);
    if (current) await deps.certificates.retire(current.id, now);
    return created;
  }

  /** Creates the org's subscription (caller holds the org's subscription lock). */
  async function createLocked(orgId: string, resyncReason: string | null): Promise<Subscription | undefined> {
    const targets = await webhookTargets(orgId);
    if (!targets) return undefined;
    const now = deps.clock.now();
    // Basic notifications carry only the message's id, so no certificate is needed (the worker fetches it).
    const certificate = targets.rich ? await currentCertificate(orgId, now) : undefined;
    const earlier = await deps.subscriptions.pending(orgId);
    // The same clientState on every attempt: a POST that reached Graph before a crash is then provably ours.
    const clientState = earlier?.clientState ?? newClientState();
    const requestedExpiresAt = requestedExpiration(now);
    await deps.subscriptions.savePending(
      {
        orgId,
        clientState,
        resource: SUBSCRIPTION_RESOURCE,
        changeType: SUBSCRIPTION_CHANGE_TYPE,
        includeResourceData: targets.rich,
        encryptionCertificateId: certificate?.id ?? null,
        requestedExpiresAt,
      },
      now,
    );
    const body = {
      changeType: SUBSCRIPTION_CHANGE_TYPE,
      notificationUrl: targets.notificationUrl,
      lifecycleNotificationUrl: targets.lifecycleNotificationUrl,
      resource: SUBSCRIPTION_RESOURCE,
      expirationDateTime: new Date(requestedExpiresAt).toISOString(),
      clientState,
      includeResourceData: targets.rich,
      ...(certificate
        ? {
            encryptionCertificate: certificate.certificateDerBase64,
            encryptionCertificateId: certificate.id,
          }
        : {}),
      latestSupportedTlsVersion: "v1_2",
    };
    let created: GraphSubscription;
    let adopted = false;
    try {
      try {
        created = (await deps.graph.request<GraphSubscription>(orgId, "POST", "/subscriptions", body)).body;
      } catch (error) {
        if (deps.graph.failureOf(error)?.status !== 409) throw error;
        const resolved = await resolveConflict(orgId, error, { ...targets, clientState });
        if (resolved) {
          created = resolved.subscription;
          adopted = resolved.adopted;
        } else {
          created = (await deps.graph.request<GraphSubscription>(orgId, "POST", "/subscriptions", body)).body;
        }
      }
    } catch (error) {
      await deps.subscriptions.recordPendingError(orgId, `create: ${describe(error)}`, deps.clock.now());
      const failure = deps.graph.failureOf(error);
      if (!(await isTokenProblem(orgId, failure)) && failure && !earlier?.lastError) {
        await deps.events.append({
          orgId,
          kind: "subscription_renewal_failed",
          severity: isRetryable(failure) ? "warning" : "error",
          message: `Creating the Graph subscription failed; retrying with backoff: ${failure.message}`,
          details: { operation: "create", status: failure.status, code: failure.code },
        });
      }
      throw error;
    }
    const expiresAt = Date.parse(created.expirationDateTime);
    const subscription = await deps.subscriptions.promotePending(
      orgId,
      {
        id: created.id,
        resource: created.resource ?? SUBSCRIPTION_RESOURCE,
        changeType: created.changeType ?? SUBSCRIPTION_CHANGE_TYPE,
        includeResourceData: created.includeResourceData ?? targets.rich,
        encryptionCertificateId: certificate ? (created.encryptionCertificateId ?? certificate.id) : null,
        expiresAt: Number.isNaN(expiresAt) ? requestedExpiresAt : expiresAt,
      },
      deps.clock.now(),
    );
    await deps.events.append({
      orgId,
      kind: "subscription_created",
      severity: "info",
      message: adopted
        ? `Adopted the existing Graph subscription ${subscription.id} (it carries our clientState), expiring ${iso(subscription.expiresAt)}.`
        : `Subscribed to Teams chat messages (${subscription.id}), expiring ${iso(subscription.expiresAt)}.`,
      details: {
        subscriptionId: subscription.id,
        resource: subscription.resource,
        expiresAt: iso(subscription.expiresAt),
        adopted,
      },
    });
    if (resyncReason) await deps.requestResync(orgId, resyncReason);
    // An adopted subscription may be older or carry another certificate: renew it now.
    if (adopted) await patchLocked(subscription, "adoption");
    else await scheduleTimers(subscription);
    return subscription;
  }

  /** Graph removed the subscription (lifecycle event, or a 404): mark it, create a new one, resync the gap. */
  async function replaceLocked(subscription: Subscription, reason: string): Promise<void> {
    const now = deps.clock.now();
    await deps.subscriptions.markRemoved(subscription.id, now);
    await deps.events.append({
      orgId: subscription.orgId,
      kind: "subscription_removed",
      severity: "warning",
      message: `Graph removed the subscription ${subscription.id} (${reason}); creating a new one and resyncing.`,
      details: { subscriptionId: subscription.id, reason },
    });
    try {
      await createLocked(subscription.orgId, reason);
    } catch (error) {
      // The ensure job keeps trying to create it; the gap since the removal is resynced either way.
      await deps.requestResync(subscription.orgId, reason);
      throw error;
    }
  }

  /** A subscription whose settings PATCH cannot change: delete it at Graph, then replace it (and resync). */
  async function deleteAndReplaceLocked(subscription: Subscription, reason: string): Promise<void> {
    try {
      await deps.graph.request(
        subscription.orgId,
        "DELETE",
        `/subscriptions/${encodeURIComponent(subscription.id)}`,
      );
    } catch (error) {
      if (deps.graph.failureOf(error)?.status !== 404) throw error;
    }
    await replaceLocked(subscription, reason);
  }

  /** One PATCH: new expiry, and the current certificate when it changed or is due (caller holds the lock). */
  async function patchLocked(subscription: Subscription, operation: string): Promise<void> {
    const now = deps.clock.now();
    let rotateTo: EncryptionCertificateInfo | undefined;
    if (subscription.includeResourceData) {
      const certificate = await currentCertificate(subscription.orgId, now);
      if (certificate.id !== subscription.encryptionCertificateId) rotateTo = certificate;
    }
    let updated: GraphSubscription;
    try {
      updated = (
        await deps.graph.request<GraphSubscription>(
          subscription.orgId,
          "PATCH",
          `/subscriptions/${encodeURIComponent(subscription.id)}`,
          {
            expirationDateTime: new Date(requestedExpiration(now)).toISOString(),
            ...(rotateTo
              ? {
                  encryptionCertificate: rotateTo.certificateDerBase64,
                  encryptionCertificateId: rotateTo.id,
                }
              : {}),
          },
        )
      ).body;
    } catch (error) {
      if (deps.graph.failureOf(error)?.status === 404) {
        await replaceLocked(subscription, "not found at renewal");
        return;
      }
      await recordFailure(subscription, operation, error);
      // Retried by the renew job, denser as the expiry nears and never before Retry-After (not the scheduler's
      // generic backoff, which could wait past the expiry).
      const failedAt = deps.clock.now();
      await deps.jobs.schedule(
        {
          kind: JOB_SUBSCRIPTION_RENEW,
          orgId: subscription.orgId,
          dedupeKey: renewKey(subscription.orgId),
          runAt: renewalRetryAt(subscription.expiresAt, failedAt, deps.graph.failureOf(error)?.retryAfterMs),
        },
        failedAt,
      );
      // A local failure (storage, a defect) also goes to the job runner, which logs it.
      if (!deps.graph.failureOf(error) && !isTokenUnavailable(error)) throw error;
      return;
    }
    const done = deps.clock.now();
    const returned = Date.parse(updated.expirationDateTime);
    const renewed: Subscription = {
      ...subscription,
      expiresAt: Number.isNaN(returned) ? subscription.expiresAt : returned,
      state: "active",
      lastRenewedAt: done,
      lastError: null,
      encryptionCertificateId: rotateTo?.id ?? subscription.encryptionCertificateId,
    };
    await deps.subscriptions.update(
      subscription.id,
      {
        expiresAt: renewed.expiresAt,
        state: "active",
        lastRenewedAt: done,
        lastError: null,
        encryptionCertificateId: renewed.encryptionCertificateId,
      },
      done,
    );
    // Graph may keep encrypting with the old certificate for a while: retired, it still resolves for decrypting.
    if (rotateTo && subscription.encryptionCertificateId)
      await deps.certificates.retire(subscription.encryptionCertificateId, done);
    if (subscription.state === "failing") {
      await deps.events.append({
        orgId: subscription.orgId,
        kind: "subscription_recovered",
        severity: "info",
        message: `The Graph subscription ${subscription.id} is renewed again, expiring ${iso(renewed.expiresAt)}.`,
        details: { subscriptionId: subscription.id, expiresAt: iso(renewed.expiresAt) },
      });
    }
    await scheduleTimers(renewed);
  }

  /** Marks the org's live subscriptions as waiting for a reconnect (no event: the token keeper raised one). */
  async function noteUnusableToken(orgId: string, connection: Connection | undefined): Promise<void> {
    const now = deps.clock.now();
    const why = connection
      ? `waiting for the service user to connect again (${connection.state})`
      : "the org is not connected";
    for (const subscription of await deps.subscriptions.listByOrg(orgId)) {
      if (subscription.lastError !== why)
        await deps.subscriptions.update(subscription.id, { state: "failing", lastError: why }, now);
    }
  }

  async function ensureLocked(orgId: string): Promise<void> {
    const connection = await deps.connections.get(orgId);
    if (!usable(connection)) {
      // A reconnect schedules another ensure.
      await noteUnusableToken(orgId, connection);
      return;
    }
    const targets = await webhookTargets(orgId);
    if (!targets) return;
    const [current, ...extra] = await deps.subscriptions.listByOrg(orgId);
    // Exactly one per org: anything older is a leftover (it should not happen; it would double every delivery).
    for (const leftover of extra) {
      try {
        await deps.graph.request(orgId, "DELETE", `/subscriptions/${encodeURIComponent(leftover.id)}`);
      } catch (error) {
        if (deps.graph.failureOf(error)?.status !== 404) throw error;
      }
      await deps.subscriptions.markRemoved(leftover.id, deps.clock.now());
    }
    if (!current) {
      await createLocked(orgId, null);
      return;
    }
    let remote: GraphSubscription;
    try {
      remote = (
        await deps.graph.request<GraphSubscription>(
          orgId,
          "GET",
          `/subscriptions/${encodeURIComponent(current.id)}`,
        )
      ).body;
    } catch (error) {
      if (deps.graph.failureOf(error)?.status === 404) {
        await replaceLocked(current, "not found when checked");
        return;
      }
      await recordFailure(current, "check", error);
      throw error;
    }
    if (
      remote.notificationUrl !== targets.notificationUrl ||
      (remote.lifecycleNotificationUrl ?? null) !== targets.lifecycleNotificationUrl
    ) {
      // The webhook URL changed; lifecycleNotificationUrl cannot be changed by PATCH, so replace it.
      await deleteAndReplaceLocked(current, "webhook URL changed");
      return;
    }
    if ((remote.includeResourceData ?? current.includeResourceData) !== targets.rich) {
      // includeResourceData cannot be changed by PATCH either: the org switched between rich and basic.
      await deleteAndReplaceLocked(
        current,
        `notification mode changed to ${targets.rich ? "rich" : "basic"}`,
      );
      return;
    }
    const now = deps.clock.now();
    const expiresAt = Date.parse(remote.expirationDateTime);
    const checked: Subscription = {
      ...current,
      expiresAt: Number.isNaN(expiresAt) ? current.expiresAt : expiresAt,
    };
    const certificate = current.includeResourceData ? await deps.certificates.current(orgId) : undefined;
    const certificateDue =
      current.includeResourceData &&
      (!certificate ||
        certificate.id !== current.encryptionCertificateId ||
        certificateNeedsRotation(certificate.notAfter, now));
    if (current.state === "failing" || certificateDue || renewDueAt(checked.expiresAt, now) <= now) {
      await patchLocked(checked, "renewal");
      return;
    }
    if (checked.expiresAt !== current.expiresAt)
      await deps.subscriptions.update(current.id, { expiresAt: checked.expiresAt }, now);
    await scheduleTimers(checked);
  }

  async function liveSubscription(orgId: string): Promise<Subscription | undefined> {
    return (await deps.subscriptions.listByOrg(orgId))[0];
  }

  async function retryLater(kind: string, orgId: string, error: unknown): Promise<void> {
    const now = deps.clock.now();
    const dedupeKey = kind === JOB_SUBSCRIPTION_ENSURE ? ensureKey(orgId) : renewKey(orgId);
    await deps.jobs.schedule({ kind, orgId, dedupeKey, runAt: now + retryAfterOf(error) }, now);
  }

  const keeper: SubscriptionKeeper = {
    ensure: (orgId) => locked(orgId, () => ensureLocked(orgId)),

    renew: (orgId) =>
      locked(orgId, async () => {
        const connection = await deps.connections.get(orgId);
        if (!usable(connection)) {
          await noteUnusableToken(orgId, connection);
          return;
        }
        const subscription = await liveSubscription(orgId);
        if (!subscription) return ensureLocked(orgId);
        await patchLocked(subscription, "renewal");
      }),

    async checkExpiry(orgId) {
      const subscription = await liveSubscription(orgId);
      if (!subscription) return;
      // A disconnected org's subscription cannot be renewed; `reauth_required` already asked for a human.
      if (!usable(await deps.connections.get(orgId))) return;
      const now = deps.clock.now();
      const warning = expiryWarning(subscription.expiresAt, now);
      if (warning) {
        await deps.events.append({
          orgId,
          kind: "subscription_expiring",
          severity: warning.severity,
          message: `The Graph subscription ${subscription.id} expires in ${warning.hoursLeft} h (${iso(subscription.expiresAt)}) and renewing it keeps failing${subscription.lastError ? `: ${subscription.lastError}` : ""}.`,
          details: {
            subscriptionId: subscription.id,
            expiresAt: iso(subscription.expiresAt),
            hoursLeft: warning.hoursLeft,
          },
        });
      }
      const next = expiryCheckAt(subscription.expiresAt, now);
      if (next !== undefined)
        await deps.jobs.schedule(
          { kind: JOB_SUBSCRIPTION_EXPIRY_CHECK, orgId, dedupeKey: checkKey(orgId), runAt: next },
          now,
        );
    },

    async handleLifecycle(subscriptionId, event) {
      const known = await deps.subscriptions.get(subscriptionId);
      if (!known || known.state === "removed") return;
      const orgId = known.orgId;
      if (event === "missed") {
        await deps.requestResync(orgId, "missed");
        return;
      }
      if (event !== "reauthorizationRequired" && event !== "subscriptionRemoved") return; // unknown future values
      await locked(orgId, async () => {
        // Re-read under the lock: a renewal or an earlier event may have replaced it meanwhile.
        const subscription = await deps.subscriptions.get(subscriptionId);
        if (!subscription || subscription.state === "removed") return;
        try {
          if (event === "subscriptionRemoved") {
            await replaceLocked(subscription, "subscriptionRemoved");
            return;
          }
          let connection = await deps.connections.get(orgId);
          if (!usable(connection)) {
            await noteUnusableToken(orgId, connection);
            return;
          }
          const now = deps.clock.now();
          if ((connection.accessTokenExpiresAt ?? 0) - now < REAUTHORIZE_MIN_TOKEN_LIFE_MS) {
            connection = await deps.tokens.refresh(orgId, "scheduled");
            if (!usable(connection)) {
              await noteUnusableToken(orgId, connection);
              return;
            }
          }
          // One PATCH renews and reauthorizes; never also POST /reauthorize (not both within 10 minutes).
          await patchLocked(subscription, "reauthorization");
        } catch (error) {
          // Failures are recorded; the jobs retry with backoff instead of a redelivered inbox item.
          await retryLater(
            event === "subscriptionRemoved" ? JOB_SUBSCRIPTION_ENSURE : JOB_SUBSCRIPTION_RENEW,
            orgId,
            error,
          );
        }
      });
    },

    async scheduleEnsure(orgId) {
      const now = deps.clock.now();
      await deps.jobs.schedule(
        { kind: JOB_SUBSCRIPTION_ENSURE, orgId, dedupeKey: ensureKey(orgId), runAt: now },
        now,
      );
    },

    async reconcileAtStartup() {
      for (const org of await deps.orgs.list()) {
        if (usable(await deps.connections.get(org.id))) await keeper.scheduleEnsure(org.id);
      }
    },

    async subscriptionStatus(orgId) {
      const views: SubscriptionStatus[] = (await deps.subscriptions.listByOrg(orgId)).map((s) => ({
        id: s.id,
        resource: s.resource,
        expiresAt: iso(s.expiresAt),
        lastRenewedAt: iso(s.lastRenewedAt),
        lastNotificationAt: iso(s.lastNotificationAt),
        state: s.state === "failing" ? "failing" : "active",
        ...(s.lastError ? { lastError: s.lastError } : {}),
      }));
      const pending = await deps.subscriptions.pending(orgId);
      if (pending?.lastError) {
        views.push({
          id: null,
          resource: pending.resource,
          expiresAt: null,
          lastRenewedAt: null,
          lastNotificationAt: null,
          state: "pending",
          lastError: pending.lastError,
        });
      }
      return views;
    },
  };
  return keeper;
}
