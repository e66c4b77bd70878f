import type { EmulatorContext } from "../emulator-context.ts";
import type { Subscription } from "../emulator-state.ts";
import { isActive } from "../delivery/enqueue-notifications.ts";
import {
  assertGraphEncryptionKey,
  EncryptionCertificateError,
  parseEncryptionCertificate,
} from "../delivery/rich-notification-crypto.ts";
import { parseWatchedResource, type WatchedResource } from "../delivery/subscription-coverage.ts";
import { runValidationHandshake } from "../delivery/validation-handshake.ts";
import { newGuid } from "../ids.ts";
import { requireScope, type GraphCaller } from "./authenticate-graph-request.ts";
import { GraphError } from "./graph-error.ts";

// Numbers from https://learn.microsoft.com/graph/api/resources/subscription (2026-09-17) and
// concepts/includes/change-notifications-supported-resources-expanded.md in microsoft-graph-docs-contrib.
const MAX_LIFETIME_MINUTES = 4320;
const MIN_LIFETIME_MS = 45 * 60_000;
const LIFECYCLE_URL_REQUIRED_BEYOND_MS = 60 * 60_000;
const PER_USER_ALL_CHATS_QUOTA = 10;
const CLIENT_STATE_MAX = 128;
const CERTIFICATE_ID_MAX = 128;
const CHANGE_TYPES = new Set(["created", "updated", "deleted"]);
const REAUTHORIZE_AND_PATCH_WINDOW_MS = 10 * 60_000;

const iso = (ms: number): string => new Date(ms).toISOString().replace("Z", "0000Z");

export function subscriptionResource(sub: Subscription): Record<string, unknown> {
  return {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
    id: sub.id,
    resource: sub.resource,
    applicationId: sub.appId,
    changeType: sub.changeType,
    clientState: sub.clientState,
    notificationUrl: sub.notificationUrl,
    notificationQueryOptions: sub.notificationQueryOptions,
    lifecycleNotificationUrl: sub.lifecycleNotificationUrl,
    expirationDateTime: iso(sub.expirationDateTime),
    creatorId: sub.creatorId,
    includeResourceData: sub.includeResourceData,
    latestSupportedTlsVersion: sub.latestSupportedTlsVersion,
    encryptionCertificate: sub.encryptionCertificate,
    encryptionCertificateId: sub.encryptionCertificateId,
    notificationUrlAppId: null,
  };
}

const invalid = (message: string) => new GraphError(400, "InvalidRequest", message);

function readString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalid(`Property '${key}' must be a string.`);
  return value;
}

function checkWebhookUrl(ctx: EmulatorContext, key: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`Invalid '${key}': '${value}' is not an absolute URL.`);
  }
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && ctx.settings.allowHttpWebhooks) return;
  throw new GraphError(400, "ValidationError", `The '${key}' must be an HTTPS URL.`);
}

/** Applies Graph's lifetime rules: over the maximum fails, under 45 minutes is silently raised to 45 minutes. */
function decideExpiration(raw: string | undefined, now: number): number {
  if (!raw) throw invalid("Property 'expirationDateTime' is required.");
  const requested = Date.parse(raw);
  if (Number.isNaN(requested)) throw invalid(`Invalid 'expirationDateTime': '${raw}'.`);
  if (requested > now + MAX_LIFETIME_MINUTES * 60_000) {
    throw new GraphError(
      400,
      "ExtensionError",
      `Subscription expiration can only be ${MAX_LIFETIME_MINUTES} minutes in the future.`,
    );
  }
  return Math.max(requested, now + MIN_LIFETIME_MS);
}

function requireLifecycleUrlIfLong(expiration: number, now: number, lifecycleUrl: string | null): void {
  if (expiration > now + LIFECYCLE_URL_REQUIRED_BEYOND_MS && !lifecycleUrl) {
    throw invalid(
      "lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour.",
    );
  }
}

/** Resource and permission rules for delegated callers (https://learn.microsoft.com/graph/api/subscription-post-subscriptions). */
function authorizeResource(caller: GraphCaller, watched: WatchedResource, resource: string): void {
  const isSelf = (ref: string) =>
    ref === "me" ||
    ref.toLowerCase() === caller.user.id ||
    ref.toLowerCase() === caller.user.userPrincipalName.toLowerCase();
  switch (watched.kind) {
    case "allChatMessagesOfUser":
      if (!isSelf(watched.userRef))
        throw new GraphError(
          403,
          "ExtensionError",
          "Operation: Create; Exception: [Status Code: Forbidden; Reason: ]",
        );
      requireScope(caller, ["Chat.Read", "Chat.ReadWrite"]);
      return;
    case "chatsOfUser":
      if (!isSelf(watched.userRef))
        throw new GraphError(
          403,
          "ExtensionError",
          "Operation: Create; Exception: [Status Code: Forbidden; Reason: ]",
        );
      requireScope(caller, ["Chat.ReadBasic", "Chat.Read", "Chat.ReadWrite"]);
      return;
    case "tenantWideChatMessages":
      throw new GraphError(
        401,
        "ExtensionError",
        "Operation: Create; Exception: [Status Code: Unauthorized; Reason: Required permissions to access tenant-wide chat messages subscription one of ('Chat.Read.All,Chat.ReadWrite.All') is missing.]",
      );
    case "chatMessagesOfChat":
      // The current permission tables list delegated access to /chats/{id}/messages as not supported.
      throw new GraphError(
        403,
        "ExtensionError",
        "Operation: Create; Exception: [Status Code: Forbidden; Reason: Delegated permissions are not supported for this resource.]",
      );
    case "unsupported":
      throw invalid(`Resource '${resource}' is not supported for change notifications.`);
  }
}

/** `/me/...`, `/users/{id}/...` and `/users/{upn}/...` name the same thing for the creator. */
function canonicalWatch(resource: string, creator: { id: string; userPrincipalName: string }): string {
  const watched = parseWatchedResource(resource);
  if ("userRef" in watched) {
    const ref = watched.userRef.toLowerCase();
    const self = ref === "me" || ref === creator.id || ref === creator.userPrincipalName.toLowerCase();
    return JSON.stringify({ ...watched, userRef: self ? creator.id : ref });
  }
  return JSON.stringify(watched);
}

function normalizeChangeType(raw: string | undefined): string {
  if (!raw) throw invalid("Property 'changeType' is required.");
  const parts = raw.split(",").map((p) => p.trim());
  for (const part of parts) {
    if (!CHANGE_TYPES.has(part))
      throw invalid(`Invalid 'changeType' value '${part}'. Allowed: created, updated, deleted.`);
  }
  return parts.join(",");
}

function checkEncryption(
  includeResourceData: boolean,
  certificate: string | undefined,
  certificateId: string | undefined,
): void {
  if (!includeResourceData) return;
  if (!certificate)
    throw invalid("A valid encryptionCertificate must be provided when includeResourceData is true.");
  if (!certificateId)
    throw invalid("A valid encryptionCertificateId must be provided when includeResourceData is true.");
  if (certificateId.length > CERTIFICATE_ID_MAX)
    throw invalid(`encryptionCertificateId can be at most ${CERTIFICATE_ID_MAX} characters.`);
  try {
    assertGraphEncryptionKey(parseEncryptionCertificate(certificate));
  } catch (error) {
    if (error instanceof EncryptionCertificateError) throw invalid(error.message);
    throw error;
  }
}

async function validateEndpoints(ctx: EmulatorContext, urls: string[]): Promise<void> {
  for (const url of [...new Set(urls)]) {
    const failure = await runValidationHandshake(url, {
      timeoutMs: ctx.settings.validationTimeoutMs,
      trustedCaPems: ctx.settings.trustedCaPems,
    });
    if (failure)
      throw new GraphError(
        400,
        failure.includes("timed out") ? "InvalidRequest" : "ValidationError",
        failure,
      );
  }
}

export async function createSubscription(
  ctx: EmulatorContext,
  caller: GraphCaller,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const now = ctx.clock.now();
  const changeType = normalizeChangeType(readString(body, "changeType"));
  const resource = readString(body, "resource");
  if (!resource) throw invalid("Property 'resource' is required.");
  const notificationUrl = readString(body, "notificationUrl");
  if (!notificationUrl) throw invalid("Property 'notificationUrl' is required.");
  checkWebhookUrl(ctx, "notificationUrl", notificationUrl);
  const lifecycleUrl = readString(body, "lifecycleNotificationUrl") ?? null;
  if (lifecycleUrl) checkWebhookUrl(ctx, "lifecycleNotificationUrl", lifecycleUrl);
  const clientState = readString(body, "clientState") ?? null;
  if (clientState !== null && clientState.length > CLIENT_STATE_MAX) {
    throw invalid(`clientState can be at most ${CLIENT_STATE_MAX} characters.`);
  }
  const includeResourceData = body.includeResourceData === true;
  const certificate = readString(body, "encryptionCertificate");
  const certificateId = readString(body, "encryptionCertificateId");
  checkEncryption(includeResourceData, certificate, certificateId);
  const watched = parseWatchedResource(resource);
  authorizeResource(caller, watched, resource);
  const expiration = decideExpiration(readString(body, "expirationDateTime"), now);
  requireLifecycleUrlIfLong(expiration, now, lifecycleUrl);

  const mine = [...ctx.state.subscriptions.values()].filter(
    (s) => isActive(s, now) && s.creatorId === caller.user.id,
  );
  const wanted = canonicalWatch(resource, caller.user);
  const duplicate = mine.find(
    (s) =>
      s.appId === caller.appId &&
      s.changeType === changeType &&
      canonicalWatch(s.resource, caller.user) === wanted,
  );
  if (duplicate)
    throw new GraphError(
      409,
      "Conflict",
      `Subscription Id ${duplicate.id} already exists for the requested combination`,
    );
  const sameKind = mine.filter((s) => parseWatchedResource(s.resource).kind === watched.kind);
  if (sameKind.length >= PER_USER_ALL_CHATS_QUOTA) {
    throw new GraphError(
      403,
      "ExtensionError",
      `Operation: Create; Exception: [Status Code: Forbidden; Reason: The maximum number of ${PER_USER_ALL_CHATS_QUOTA} subscriptions per user for this resource has been reached.]`,
    );
  }

  await validateEndpoints(ctx, lifecycleUrl ? [notificationUrl, lifecycleUrl] : [notificationUrl]);

  const sub: Subscription = {
    id: newGuid(),
    tenantId: caller.tenantId,
    appId: caller.appId,
    creatorId: caller.user.id,
    resource,
    changeType,
    notificationUrl,
    lifecycleNotificationUrl: lifecycleUrl,
    clientState,
    expirationDateTime: expiration,
    includeResourceData,
    encryptionCertificate: certificate ?? null,
    encryptionCertificateId: certificateId ?? null,
    latestSupportedTlsVersion: readString(body, "latestSupportedTlsVersion") ?? "v1_2",
    notificationQueryOptions: null,
    authorizedUntil: caller.tokenExpiresAt,
    lastReauthorizationNoticeAt: null,
    lastPatchAt: null,
    lastReauthorizeAt: null,
    createdAt: now,
    removed: false,
  };
  ctx.state.subscriptions.set(sub.id, sub);
  return subscriptionResource(sub);
}

/** Subscriptions are visible to the app that created them, for the user who created them. */
export function findOwnSubscription(ctx: EmulatorContext, caller: GraphCaller, id: string): Subscription {
  const sub = ctx.state.subscriptions.get(id);
  if (!sub || !isActive(sub, ctx.clock.now()) || sub.appId !== caller.appId) {
    throw new GraphError(404, "ResourceNotFound", `The object was not found.`);
  }
  if (sub.creatorId !== caller.user.id)
    throw new GraphError(
      403,
      "ExtensionError",
      "Operation: Get; Exception: [Status Code: Forbidden; Reason: ]",
    );
  return sub;
}

export function listSubscriptions(ctx: EmulatorContext, caller: GraphCaller): Record<string, unknown> {
  const now = ctx.clock.now();
  const value = [...ctx.state.subscriptions.values()]
    .filter((s) => isActive(s, now) && s.appId === caller.appId && s.creatorId === caller.user.id)
    .map((s) => {
      const { "@odata.context": _context, ...rest } = subscriptionResource(s);
      return rest;
    });
  return { "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions", value };
}

function noteReauthorizeAndPatchTogether(
  ctx: EmulatorContext,
  sub: Subscription,
  now: number,
  other: number | null,
  rule: string,
): void {
  // "Don't send a reauthorize and a PATCH for the same subscription within 10 minutes"
  // (https://learn.microsoft.com/graph/change-notifications-lifecycle-events).
  if (other !== null && now - other < REAUTHORIZE_AND_PATCH_WINDOW_MS) {
    ctx.state.protocolViolations.push({ at: now, subscriptionId: sub.id, rule });
  }
}

export async function updateSubscription(
  ctx: EmulatorContext,
  caller: GraphCaller,
  id: string,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const sub = findOwnSubscription(ctx, caller, id);
  const now = ctx.clock.now();
  const lifecycleUrl = readString(body, "lifecycleNotificationUrl");
  if (lifecycleUrl !== undefined && lifecycleUrl !== sub.lifecycleNotificationUrl) {
    // https://learn.microsoft.com/graph/change-notifications-lifecycle-events: it cannot be added to an existing subscription.
    throw invalid(
      "lifecycleNotificationUrl cannot be added or changed on an existing subscription. Delete the subscription and create a new one.",
    );
  }
  const expirationRaw = readString(body, "expirationDateTime");
  const expiration =
    expirationRaw === undefined ? sub.expirationDateTime : decideExpiration(expirationRaw, now);
  requireLifecycleUrlIfLong(expiration, now, sub.lifecycleNotificationUrl);
  const notificationUrl = readString(body, "notificationUrl");
  if (notificationUrl !== undefined) checkWebhookUrl(ctx, "notificationUrl", notificationUrl);
  const certificate = readString(body, "encryptionCertificate");
  const certificateId = readString(body, "encryptionCertificateId");
  if (certificate !== undefined || certificateId !== undefined) {
    checkEncryption(
      sub.includeResourceData,
      certificate ?? sub.encryptionCertificate ?? undefined,
      certificateId ?? sub.encryptionCertificateId ?? undefined,
    );
  }
  if (notificationUrl !== undefined && notificationUrl !== sub.notificationUrl)
    await validateEndpoints(ctx, [notificationUrl]);

  noteReauthorizeAndPatchTogether(
    ctx,
    sub,
    now,
    sub.lastReauthorizeAt,
    "PATCH within 10 minutes of reauthorize",
  );
  sub.expirationDateTime = expiration;
  if (notificationUrl !== undefined) sub.notificationUrl = notificationUrl;
  if (certificate !== undefined) sub.encryptionCertificate = certificate;
  if (certificateId !== undefined) sub.encryptionCertificateId = certificateId;
  // Renewing also reauthorizes (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks).
  sub.authorizedUntil = caller.tokenExpiresAt;
  sub.lastReauthorizationNoticeAt = null;
  sub.lastPatchAt = now;
  return subscriptionResource(sub);
}

export function reauthorizeSubscription(ctx: EmulatorContext, caller: GraphCaller, id: string): void {
  const sub = findOwnSubscription(ctx, caller, id);
  const now = ctx.clock.now();
  noteReauthorizeAndPatchTogether(ctx, sub, now, sub.lastPatchAt, "reauthorize within 10 minutes of PATCH");
  sub.authorizedUntil = caller.tokenExpiresAt;
  sub.lastReauthorizationNoticeAt = null;
  sub.lastReauthorizeAt = now;
}

export function deleteSubscription(ctx: EmulatorContext, caller: GraphCaller, id: string): void {
  const sub = findOwnSubscription(ctx, caller, id);
  sub.removed = true;
}
