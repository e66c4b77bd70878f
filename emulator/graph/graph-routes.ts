import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { EmulatorContext } from "../emulator-context.ts";
import type { StoredChat } from "../emulator-state.ts";
import { toGraphChatMessage } from "../delivery/change-notification-item.ts";
import { takeFault } from "../faults.ts";
import { authenticateGraphRequest, requireScope, type GraphCaller } from "./authenticate-graph-request.ts";
import { queryChatMessages } from "./chat-messages-query.ts";
import { queryChats } from "./chats-query.ts";
import { GraphError } from "./graph-error.ts";
import type { GraphChat, GraphChatMessage } from "./graph-types.ts";
import {
  createSubscription,
  deleteSubscription,
  findOwnSubscription,
  listSubscriptions,
  reauthorizeSubscription,
  subscriptionResource,
  updateSubscription,
} from "./subscriptions-api.ts";

const THROTTLE_BODIES: Record<number, { code: string; message: string }> = {
  429: { code: "TooManyRequests", message: "Please retry again later." },
  503: { code: "ServiceUnavailable", message: "The service is temporarily unavailable. Please retry later." },
  504: { code: "GatewayTimeout", message: "The gateway timed out." },
};

/** Microsoft Graph v1.0 routes the relay uses, checked the way Graph checks them. */
export function registerGraphRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  const caller = (req: FastifyRequest) => authenticateGraphRequest(ctx, req.headers.authorization);
  const collectionUrl = (req: FastifyRequest) => `${ctx.baseUrl()}${req.url.split("?")[0]}`;
  const query = (req: FastifyRequest) => new URLSearchParams(req.url.split("?")[1] ?? "");

  app.addHook("onRequest", async (req, reply) => {
    if (!req.url.startsWith("/v1.0/")) return;
    const fault = takeFault(ctx.state, "graph", req.url.split("?")[0]!);
    if (!fault) return;
    if (fault.kind === "hang") {
      reply.hijack();
      return new Promise<never>(() => {});
    }
    const status = fault.status ?? 503;
    const shape = THROTTLE_BODIES[status] ?? { code: "generalException", message: "An error occurred." };
    const error = new GraphError(
      status,
      shape.code,
      shape.message,
      fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {},
    );
    return sendGraphError(ctx, reply, error, req);
  });

  app.setErrorHandler((error, req, reply) => {
    if (error instanceof GraphError) return sendGraphError(ctx, reply, error, req);
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status < 500)
      return sendGraphError(ctx, reply, new GraphError(status, "BadRequest", (error as Error).message), req);
    ctx.log("graph route failed", { url: req.url, error: String(error) });
    return sendGraphError(
      ctx,
      reply,
      new GraphError(500, "InternalServerError", "An internal server error occurred."),
      req,
    );
  });

  app.get("/v1.0/me", async (req) => {
    const c = await caller(req);
    requireScope(c, ["User.Read", "User.ReadWrite", "User.ReadBasic.All"]);
    return {
      "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
      businessPhones: [],
      displayName: c.user.displayName,
      givenName: c.user.displayName.split(" ")[0] ?? null,
      jobTitle: null,
      mail: c.user.userPrincipalName,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: "en-US",
      surname: c.user.displayName.split(" ").slice(1).join(" ") || null,
      userPrincipalName: c.user.userPrincipalName,
      id: c.user.id,
    };
  });

  app.get("/v1.0/me/chats", async (req, reply) => {
    const c = await caller(req);
    requireScope(c, ["Chat.ReadBasic", "Chat.Read", "Chat.ReadWrite"]);
    const chats = [...ctx.state.chats.values()]
      .filter((chat) => chat.memberIds.includes(c.user.id))
      .map(toGraphChat);
    return sendQueryResult(ctx, reply, req, queryChats(chats, query(req), collectionUrl(req)));
  });

  for (const prefix of ["/v1.0/chats", "/v1.0/me/chats"]) {
    app.get<{ Params: { chatId: string } }>(`${prefix}/:chatId`, async (req) => {
      const c = await caller(req);
      requireScope(c, ["Chat.ReadBasic", "Chat.Read", "Chat.ReadWrite"]);
      return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#chats/$entity",
        ...toGraphChat(chatOf(ctx, c, req.params.chatId)),
      };
    });
    app.get<{ Params: { chatId: string } }>(`${prefix}/:chatId/messages`, async (req, reply) => {
      const c = await caller(req);
      requireScope(c, ["Chat.Read", "Chat.ReadWrite"]);
      const chat = chatOf(ctx, c, req.params.chatId);
      const messages = (ctx.state.messages.get(chat.id) ?? []).map(
        (m) => toGraphChatMessage(m) as unknown as GraphChatMessage,
      );
      return sendQueryResult(ctx, reply, req, queryChatMessages(messages, query(req), collectionUrl(req)));
    });
    app.get<{ Params: { chatId: string; messageId: string } }>(
      `${prefix}/:chatId/messages/:messageId`,
      async (req) => {
        const c = await caller(req);
        requireScope(c, ["Chat.Read", "Chat.ReadWrite"]);
        const chat = chatOf(ctx, c, req.params.chatId);
        const message = ctx.state.messages.get(chat.id)?.find((m) => m.id === req.params.messageId);
        if (!message) throw new GraphError(404, "NotFound", "Message not found.");
        return {
          "@odata.context": `https://graph.microsoft.com/v1.0/$metadata#chats('${chat.id}')/messages/$entity`,
          ...toGraphChatMessage(message),
        };
      },
    );
  }

  app.post<{ Body: Record<string, unknown> }>("/v1.0/subscriptions", async (req, reply) => {
    const c = await caller(req);
    const created = await createSubscription(ctx, c, bodyObject(req.body));
    ctx.wake();
    return reply.code(201).send(created);
  });
  app.get("/v1.0/subscriptions", async (req) => listSubscriptions(ctx, await caller(req)));
  app.get<{ Params: { id: string } }>("/v1.0/subscriptions/:id", async (req) =>
    subscriptionResource(findOwnSubscription(ctx, await caller(req), req.params.id)),
  );
  app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>(
    "/v1.0/subscriptions/:id",
    async (req) => updateSubscription(ctx, await caller(req), req.params.id, bodyObject(req.body)),
  );
  app.delete<{ Params: { id: string } }>("/v1.0/subscriptions/:id", async (req, reply) => {
    deleteSubscription(ctx, await caller(req), req.params.id);
    return reply.code(204).send();
  });
  app.post<{ Params: { id: string } }>("/v1.0/subscriptions/:id/reauthorize", async (req, reply) => {
    reauthorizeSubscription(ctx, await caller(req), req.params.id);
    return reply.code(204).send();
  });
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw new GraphError(400, "BadRequest", "The request body must be a JSON object.");
  return body as Record<string, unknown>;
}

function chatOf(ctx: EmulatorContext, caller: GraphCaller, chatId: string): StoredChat {
  const chat = ctx.state.chats.get(chatId);
  if (!chat || chat.tenantId !== caller.tenantId)
    throw new GraphError(404, "NotFound", `Chat '${chatId}' was not found.`);
  if (!chat.memberIds.includes(caller.user.id))
    throw new GraphError(403, "Forbidden", "Forbidden: the user is not a member of this chat.");
  return chat;
}

function toGraphChat(chat: StoredChat): GraphChat {
  const { memberIds: _members, ...graph } = chat;
  return { ...graph, lastMessagePreview: chat.lastMessagePreview ?? null };
}

function sendQueryResult(
  ctx: EmulatorContext,
  reply: FastifyReply,
  req: FastifyRequest,
  result: ReturnType<typeof queryChats> | ReturnType<typeof queryChatMessages>,
) {
  if (result.ok) return reply.send(result.body);
  return sendGraphError(
    ctx,
    reply,
    new GraphError(result.status, result.error.code, result.error.message),
    req,
  );
}

function sendGraphError(ctx: EmulatorContext, reply: FastifyReply, error: GraphError, req: FastifyRequest) {
  const clientRequestId = req.headers["client-request-id"];
  return reply
    .code(error.status)
    .headers(error.headers)
    .send(error.body(ctx.clock.now(), typeof clientRequestId === "string" ? clientRequestId : undefined));
}
