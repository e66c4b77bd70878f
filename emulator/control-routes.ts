import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { enqueueLifecycleNotification } from "./delivery/enqueue-notifications.ts";
import type { EmulatorContext } from "./emulator-context.ts";
import type { Fault, Tenant, User } from "./emulator-state.ts";
import { addFault, FAULT_KINDS } from "./faults.ts";
import { AADSTS_CATALOG } from "./identity/entra-errors.ts";
import { newGuid } from "./ids.ts";
import { renderEmergencyMessageBody, type EmergencyDialString } from "./teams/emergency-message-body.ts";
import { editChatMessage, findOrCreateGroupChat, postChatMessage } from "./teams/teams-directory.ts";

class ControlError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

type Body = Record<string, unknown>;

/** Collects every problem with a control request so one answer names them all. */
class Problems {
  readonly list: string[] = [];
  string(body: Body, key: string, required: boolean): string | undefined {
    const value = body[key];
    if (value === undefined || value === null) {
      if (required) this.list.push(`${key} is required`);
      return undefined;
    }
    if (typeof value !== "string" || value.trim() === "") {
      this.list.push(`${key} must be a non-empty string`);
      return undefined;
    }
    return value;
  }
  time(body: Body, key: string): number | null | undefined {
    const value = body[key];
    if (value === undefined) return undefined;
    if (value === null) return null;
    const ms = typeof value === "number" ? value : typeof value === "string" ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(ms)) this.list.push(`${key} must be an ISO-8601 date-time or epoch milliseconds`);
    return ms;
  }
  throwIfAny(): void {
    if (this.list.length > 0) throw new ControlError(400, this.list.join("; "));
  }
}

const describeValue = (value: unknown): string => (value === undefined ? "(missing)" : JSON.stringify(value));

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The emulator's control API under `/_emulator/`: set up directories, drive Teams, move time, inject faults. */
export function registerControlRoutes(
  app: FastifyInstance,
  ctx: EmulatorContext,
  settle: () => Promise<void>,
): void {
  const { state } = ctx;
  const tenantOf = (tid: string): Tenant => {
    const tenant = state.tenants.get(tid.toLowerCase());
    if (!tenant) throw new ControlError(404, `tenant ${tid} not found`);
    return tenant;
  };
  const findUser = (tenant: Tenant, userId: unknown): User | undefined => {
    const user = typeof userId === "string" ? state.users.get(userId.toLowerCase()) : undefined;
    return user && user.tenantId === tenant.id ? user : undefined;
  };
  const userOf = (tenant: Tenant, userId: unknown, key: string): User => {
    const user = findUser(tenant, userId);
    if (!user)
      throw new ControlError(400, `${key} ${describeValue(userId)} is not a user of tenant ${tenant.id}`);
    return user;
  };
  const body = (raw: unknown): Body => {
    if (raw === undefined || raw === null) return {};
    if (typeof raw !== "object" || Array.isArray(raw))
      throw new ControlError(400, "body must be a JSON object");
    return raw as Body;
  };

  app.setErrorHandler((error, _req, reply) => {
    if (error instanceof ControlError) return reply.code(error.status).send({ error: error.message });
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    return reply.code(status).send({ error: status < 500 ? (error as Error).message : "internal error" });
  });

  app.post("/_emulator/tenants", async (req, reply) => {
    const p = new Problems();
    const b = body(req.body);
    const displayName = p.string(b, "displayName", true);
    // An explicit id lets tests create the consumer tenant 9188040d-... that personal Microsoft accounts sign in from.
    const requestedId = p.string(b, "id", false)?.toLowerCase();
    if (requestedId && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(requestedId))
      p.list.push("id must be a GUID");
    if (requestedId && state.tenants.has(requestedId)) p.list.push(`tenant ${requestedId} already exists`);
    p.throwIfAny();
    const id = requestedId ?? newGuid();
    const slug =
      displayName!
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "")
        .slice(0, 20) || "tenant";
    const domain = `${slug}${state.tenants.size + 1}.onmicrosoft.com`;
    state.tenants.set(id, { id, displayName: displayName!, domain });
    return reply.code(201).send({ tenantId: id, displayName, domain });
  });

  app.post<{ Params: { tid: string } }>("/_emulator/tenants/:tid/apps", async (req, reply) => {
    const tenant = tenantOf(req.params.tid);
    const b = body(req.body);
    const p = new Problems();
    const displayName = p.string(b, "displayName", true);
    const redirectUris = readRedirectUris(p, b.redirectUris, true) ?? [];
    const secretExpiresAt = p.time(b, "secretExpiresAt");
    const audience = b.signInAudience ?? "AzureADMyOrg";
    if (audience !== "AzureADMyOrg" && audience !== "AzureADMultipleOrgs")
      p.list.push("signInAudience must be AzureADMyOrg or AzureADMultipleOrgs");
    p.throwIfAny();
    const clientId = newGuid();
    // Entra secret values are 40 characters with a `~` in the 4th position; shape only, not content.
    const clientSecret = `${randomBytes(2).toString("hex").slice(0, 3)}8Q~${randomBytes(27).toString("base64url").slice(0, 36)}`;
    const expiresAt = secretExpiresAt ?? ctx.clock.now() + 180 * 24 * 3600_000;
    state.apps.set(clientId, {
      clientId,
      tenantId: tenant.id,
      displayName: displayName!,
      redirectUris,
      multiTenant: audience === "AzureADMultipleOrgs",
      secrets: [{ keyId: newGuid(), value: clientSecret, expiresAt }],
    });
    return reply.code(201).send({ clientId, clientSecret, secretExpiresAt: iso(expiresAt) });
  });

  app.patch<{ Params: { tid: string; clientId: string } }>(
    "/_emulator/tenants/:tid/apps/:clientId",
    async (req) => {
      const tenant = tenantOf(req.params.tid);
      const registration = state.apps.get(req.params.clientId.toLowerCase());
      if (!registration || registration.tenantId !== tenant.id)
        throw new ControlError(404, `app ${req.params.clientId} not found in tenant ${tenant.id}`);
      const b = body(req.body);
      const p = new Problems();
      const redirectUris = readRedirectUris(p, b.redirectUris, false);
      const secretExpiresAt = p.time(b, "secretExpiresAt");
      p.throwIfAny();
      if (redirectUris) registration.redirectUris = redirectUris;
      if (secretExpiresAt !== undefined)
        for (const secret of registration.secrets) secret.expiresAt = secretExpiresAt;
      return {
        clientId: registration.clientId,
        redirectUris: registration.redirectUris,
        secrets: registration.secrets.map((s) => ({
          keyId: s.keyId,
          hint: s.value.slice(0, 3),
          expiresAt: iso(s.expiresAt),
        })),
      };
    },
  );

  app.post<{ Params: { tid: string } }>("/_emulator/tenants/:tid/users", async (req, reply) => {
    const tenant = tenantOf(req.params.tid);
    const b = body(req.body);
    const p = new Problems();
    const displayName = p.string(b, "displayName", true);
    const upn = p.string(b, "userPrincipalName", true);
    if (upn && !/^[^@\s]+@[^@\s]+$/.test(upn)) p.list.push("userPrincipalName must look like name@domain");
    if (
      upn &&
      [...state.users.values()].some((u) => u.userPrincipalName.toLowerCase() === upn.toLowerCase())
    ) {
      p.list.push(`userPrincipalName ${upn} already exists`);
    }
    p.throwIfAny();
    const id = newGuid();
    state.users.set(id, {
      id,
      tenantId: tenant.id,
      displayName: displayName!,
      userPrincipalName: upn!,
      tokensValidAfter: 0,
    });
    return reply.code(201).send({ id, displayName, userPrincipalName: upn });
  });

  // "Revoke sessions" / admin password reset: every refresh token issued so far stops working (AADSTS50173).
  app.post<{ Params: { tid: string; userId: string } }>(
    "/_emulator/tenants/:tid/users/:userId/revoke-sessions",
    async (req) => {
      const user = userOf(tenantOf(req.params.tid), req.params.userId, "userId");
      user.tokensValidAfter = ctx.clock.now() + 1;
      // Graph asks for reauthorization "when an administrator has revoked your app's permissions"
      // (https://learn.microsoft.com/graph/change-notifications-lifecycle-events).
      for (const sub of state.subscriptions.values()) {
        if (sub.creatorId === user.id && !sub.removed)
          enqueueLifecycleNotification(ctx, sub, "reauthorizationRequired");
      }
      return { userId: user.id, tokensValidAfter: iso(user.tokensValidAfter) };
    },
  );

  app.post<{ Params: { tid: string } }>("/_emulator/tenants/:tid/chats", async (req, reply) => {
    const tenant = tenantOf(req.params.tid);
    const b = body(req.body);
    if (!Array.isArray(b.memberIds) || b.memberIds.length < 2)
      throw new ControlError(400, "memberIds must list at least two user ids");
    const members = b.memberIds.map((id) => userOf(tenant, id, "memberIds entry"));
    const chat = findOrCreateGroupChat(
      ctx,
      tenant.id,
      members.map((m) => m.id),
      typeof b.topic === "string" ? b.topic : null,
    );
    return reply.code(201).send({ chatId: chat.id });
  });

  app.post<{ Params: { tid: string; chatId: string } }>(
    "/_emulator/tenants/:tid/chats/:chatId/messages",
    async (req, reply) => {
      const tenant = tenantOf(req.params.tid);
      const chat = state.chats.get(req.params.chatId);
      if (!chat || chat.tenantId !== tenant.id)
        throw new ControlError(404, `chat ${req.params.chatId} not found in tenant ${tenant.id}`);
      const b = body(req.body);
      const p = new Problems();
      const content = p.string(b, "content", true);
      const contentType: "html" | "text" = b.contentType === "text" ? "text" : "html";
      if (b.contentType !== undefined && b.contentType !== "html" && b.contentType !== "text")
        p.list.push("contentType must be html or text");
      p.throwIfAny();
      const from = userOf(tenant, b.fromUserId, "fromUserId");
      if (!chat.memberIds.includes(from.id))
        throw new ControlError(400, `fromUserId ${from.id} is not a member of chat ${chat.id}`);
      const importance = b.importance === "high" || b.importance === "urgent" ? b.importance : "normal";
      const message = postChatMessage(ctx, chat, from, { contentType, content: content! }, importance);
      return reply.code(201).send({ chatId: chat.id, messageId: message.id });
    },
  );

  app.patch<{ Params: { tid: string; chatId: string; messageId: string } }>(
    "/_emulator/tenants/:tid/chats/:chatId/messages/:messageId",
    async (req) => {
      tenantOf(req.params.tid);
      const message = state.messages.get(req.params.chatId)?.find((m) => m.id === req.params.messageId);
      if (!message)
        throw new ControlError(404, `message ${req.params.messageId} not found in chat ${req.params.chatId}`);
      const p = new Problems();
      const content = p.string(body(req.body), "content", true);
      p.throwIfAny();
      editChatMessage(ctx, message, content!);
      return { chatId: message.chatId, messageId: message.id, etag: message.etag };
    },
  );

  app.post<{ Params: { tid: string } }>("/_emulator/tenants/:tid/emergency-calls", async (req, reply) => {
    const tenant = tenantOf(req.params.tid);
    const b = body(req.body);
    const p = new Problems();
    const dialString = p.string(b, "dialString", true);
    if (dialString && !["911", "933", "112"].includes(dialString))
      p.list.push("dialString must be 911, 933 or 112");
    const caller = findUser(tenant, b.callerId);
    if (!caller) p.list.push(`callerId ${describeValue(b.callerId)} is not a user of tenant ${tenant.id}`);
    const notified: User[] = [];
    if (!Array.isArray(b.notify) || b.notify.length === 0)
      p.list.push("notify must list at least one user id");
    else {
      for (const id of b.notify) {
        const member = findUser(tenant, id);
        if (member) notified.push(member);
        else p.list.push(`notify entry ${describeValue(id)} is not a user of tenant ${tenant.id}`);
      }
    }
    const location = (b.location ?? { kind: "unknown" }) as Body;
    if (
      typeof location !== "object" ||
      !["dynamic", "user", "static", "unknown"].includes(String(location.kind))
    ) {
      p.list.push("location.kind must be dynamic, user, static or unknown");
    }
    for (const key of ["place", "address"]) {
      if (location[key] !== undefined && typeof location[key] !== "string")
        p.list.push(`location.${key} must be a string`);
    }
    p.throwIfAny();
    if (!caller) throw new ControlError(400, "callerId is not a user of this tenant");
    const messageBody = renderEmergencyMessageBody({
      callerDisplayName: caller.displayName,
      dialString: dialString as EmergencyDialString,
      location: {
        kind: location.kind as "dynamic" | "user" | "static" | "unknown",
        ...(typeof location.place === "string" ? { place: location.place } : {}),
        ...(typeof location.address === "string" ? { address: location.address } : {}),
      },
    });
    // "A group chat is started with each security desk member, and the location of the emergency caller is shared
    // via an important message notification." (learn.microsoft.com/microsoftteams/emergency-calling-security-desk-notifications)
    const messages = notified.map((member) => {
      const chat = findOrCreateGroupChat(ctx, tenant.id, [caller.id, member.id]);
      const message = postChatMessage(ctx, chat, caller, messageBody, "high");
      return { userId: member.id, chatId: chat.id, messageId: message.id };
    });
    const callId = newGuid();
    state.emergencyCalls.push({
      callId,
      tenantId: tenant.id,
      callerId: caller.id,
      dialString: dialString!,
      at: ctx.clock.now(),
      messages,
    });
    return reply.code(201).send({ callId, messages });
  });

  app.get("/_emulator/clock", async () => ({ now: iso(ctx.clock.now()) }));
  app.post("/_emulator/clock", async (req) => {
    const b = body(req.body);
    const seconds = b.advanceSeconds;
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
      throw new ControlError(400, "advanceSeconds must be a non-negative number");
    }
    ctx.clock.advance(seconds * 1000);
    ctx.wake();
    return { now: iso(ctx.clock.now()) };
  });

  app.post("/_emulator/faults", async (req, reply) => {
    const b = body(req.body);
    const p = new Problems();
    const target = b.target as Fault["target"];
    const kind = b.kind as Fault["kind"];
    if (!(target in FAULT_KINDS)) p.list.push("target must be token, graph or delivery");
    else if (!FAULT_KINDS[target].includes(kind))
      p.list.push(`kind for target ${target} must be one of ${FAULT_KINDS[target].join(", ")}`);
    if (kind === "aadsts" && (typeof b.aadsts !== "number" || !(b.aadsts in AADSTS_CATALOG))) {
      p.list.push(`aadsts must be one of ${Object.keys(AADSTS_CATALOG).join(", ")}`);
    }
    if (kind === "http" && (typeof b.status !== "number" || b.status < 400 || b.status > 599))
      p.list.push("status must be an HTTP error status (400-599)");
    if (b.retryAfter !== undefined && (typeof b.retryAfter !== "number" || b.retryAfter < 0))
      p.list.push("retryAfter must be a non-negative number of seconds");
    if (b.times !== undefined && (!Number.isInteger(b.times) || (b.times as number) < 1))
      p.list.push("times must be a positive integer");
    if (b.delaySeconds !== undefined && (typeof b.delaySeconds !== "number" || b.delaySeconds < 0))
      p.list.push("delaySeconds must be a non-negative number");
    if (b.match !== undefined && typeof b.match !== "string") p.list.push("match must be a string");
    p.throwIfAny();
    const fault = addFault(
      state,
      {
        target,
        kind,
        ...(typeof b.aadsts === "number" ? { aadsts: b.aadsts } : {}),
        ...(typeof b.status === "number" ? { status: b.status } : {}),
        ...(typeof b.retryAfter === "number" ? { retryAfter: b.retryAfter } : {}),
        ...(typeof b.delaySeconds === "number" ? { delaySeconds: b.delaySeconds } : {}),
        ...(typeof b.match === "string" ? { match: b.match } : {}),
      },
      (b.times as number | undefined) ?? 1,
    );
    return reply.code(201).send(fault);
  });
  app.delete("/_emulator/faults", async (_req, reply) => {
    state.faults.length = 0;
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>("/_emulator/subscriptions/:id/lifecycle", async (req, reply) => {
    const sub = state.subscriptions.get(req.params.id);
    if (!sub) throw new ControlError(404, `subscription ${req.params.id} not found`);
    const event = body(req.body).event;
    if (event !== "reauthorizationRequired" && event !== "subscriptionRemoved" && event !== "missed") {
      throw new ControlError(400, "event must be reauthorizationRequired, subscriptionRemoved or missed");
    }
    if (!sub.lifecycleNotificationUrl)
      throw new ControlError(
        409,
        "subscription has no lifecycleNotificationUrl, so Graph sends it no lifecycle events",
      );
    const delivery = enqueueLifecycleNotification(ctx, sub, event);
    if (event === "subscriptionRemoved") sub.removed = true;
    return reply.code(202).send({ deliveryId: delivery?.id });
  });

  app.post("/_emulator/settle", async () => {
    await settle();
    return { now: iso(ctx.clock.now()) };
  });

  app.get("/_emulator/state", async () => snapshot(ctx));
}

function readRedirectUris(p: Problems, value: unknown, required: boolean): string[] | undefined {
  if (value === undefined) {
    if (required) p.list.push("redirectUris is required");
    return undefined;
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    p.list.push("redirectUris must be an array of URLs");
    return undefined;
  }
  for (const uri of value as string[]) {
    try {
      const url = new URL(uri);
      const local = url.hostname === "localhost" || url.hostname === "127.0.0.1";
      // https://learn.microsoft.com/entra/identity-platform/reply-url: https only, except localhost.
      if (url.protocol !== "https:" && !(url.protocol === "http:" && local))
        p.list.push(`redirect URI ${uri} must use https (http only for localhost)`);
      if (uri.length > 256) p.list.push(`redirect URI ${uri.slice(0, 40)}... is longer than 256 characters`);
    } catch {
      p.list.push(`redirect URI ${uri} is not an absolute URL`);
    }
  }
  if ((value as string[]).length > 256) p.list.push("at most 256 redirect URIs");
  return value as string[];
}

/** Everything, as JSON: this is a test double, so issued tokens and secrets are shown on purpose. */
function snapshot(ctx: EmulatorContext) {
  const { state } = ctx;
  return {
    now: iso(ctx.clock.now()),
    tenants: [...state.tenants.values()],
    apps: [...state.apps.values()].map((a) => ({
      ...a,
      secrets: a.secrets.map((s) => ({ ...s, expiresAt: iso(s.expiresAt) })),
    })),
    users: [...state.users.values()],
    chats: [...state.chats.values()],
    messages: Object.fromEntries(state.messages),
    authCodes: [...state.authCodes.values()].map((c) => ({ ...c, expiresAt: iso(c.expiresAt) })),
    refreshTokens: [...state.refreshTokens.values()].map((r) => ({
      ...r,
      issuedAt: iso(r.issuedAt),
      expiresAt: iso(r.expiresAt),
      usedAt: iso(r.usedAt),
    })),
    accessTokens: state.accessTokens.map((t) => ({
      ...t,
      issuedAt: iso(t.issuedAt),
      expiresAt: iso(t.expiresAt),
    })),
    subscriptions: [...state.subscriptions.values()].map((s) => ({
      ...s,
      expirationDateTime: iso(s.expirationDateTime),
      authorizedUntil: iso(s.authorizedUntil),
      createdAt: iso(s.createdAt),
      state: s.removed ? "removed" : s.expirationDateTime <= ctx.clock.now() ? "expired" : "active",
    })),
    deliveries: state.deliveries.map((d) => ({
      ...d,
      createdAt: iso(d.createdAt),
      nextAttemptAt: iso(d.nextAttemptAt),
      deliveredAt: iso(d.deliveredAt),
      latencyMs: d.attempts.at(-1)?.latencyMs ?? null,
    })),
    endpoints: Object.fromEntries(
      [...state.endpoints].map(([key, h]) => [
        key,
        {
          samples: h.samples.length,
          slowUntil: iso(h.slowUntil || null),
          dropUntil: iso(h.dropUntil || null),
        },
      ]),
    ),
    faults: state.faults,
    protocolViolations: state.protocolViolations,
    emergencyCalls: state.emergencyCalls,
  };
}
