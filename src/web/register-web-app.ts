import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RelayError } from "../core/errors.ts";
import { crossSiteReason, isSafeMethod } from "../core/request-origin.ts";
import { toResponse } from "../http/error-handler.ts";
import { registerAccountRoutes } from "./account-routes.ts";
import { registerAssetRoutes } from "./asset-routes.ts";
import { registerAuditRoutes } from "./audit-routes.ts";
import { createBoardData } from "./board-data.ts";
import { createBoardHub } from "./board-hub.ts";
import { registerBoardRoutes } from "./board-routes.ts";
import { registerChannelPages } from "./channel-pages.ts";
import { CSRF_FIELD, CSRF_HEADER, csrfTokenMatches } from "./csrf.ts";
import { registerEmergencyPages } from "./emergency-pages.ts";
import { registerHistoryPages } from "./history-pages.ts";
import { registerLoginRoutes } from "./login-routes.ts";
import { registerOrgPages } from "./org-pages.ts";
import { registerPolicyPages } from "./policy-pages.ts";
import { securityHeaders } from "./security-headers.ts";
import { createSessionCookies } from "./session-cookie.ts";
import { registerTemplatePages } from "./template-pages.ts";
import type { WebAppDeps } from "./web-app-deps.ts";
import { createWebContext, type WebContext } from "./web-context.ts";
import { setWebSession, webSession } from "./web-request.ts";
import { createWebSessions } from "./web-sessions.ts";
import { errorView } from "./views/error-view.ts";

// Forms are small; a megabyte of form data is an attack, not an org name.
const FORM_BODY_LIMIT = 64 * 1024;

/**
 * The admin web app under `/`: cookie sessions, CSRF tokens on every state-changing request, role guards,
 * HTML pages with a strict CSP. The JSON admin API (`/api/...`, bearer token) is untouched.
 */
export function registerWebApp(app: FastifyInstance, deps: WebAppDeps): void {
  const secure = new URL(deps.publicUrl).protocol === "https:";
  const cookies = createSessionCookies({ secure, absoluteMs: deps.sessionLifetime.absoluteMs });
  const sessions = createWebSessions({
    sessions: deps.sessions,
    accounts: deps.accounts,
    clock: deps.clock,
    lifetime: deps.sessionLifetime,
  });
  const context = createWebContext(deps, sessions, cookies);
  const headers = securityHeaders(deps.loginBaseUrl);
  const boardData = createBoardData(deps);
  const hub = createBoardHub({ feed: deps.alerting.feed, data: boardData, log: app.log });
  app.addHook("onClose", async () => hub.close());

  void app.register(async (scope) => {
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: FORM_BODY_LIMIT },
      (
        _request: FastifyRequest,
        body: string | Buffer,
        done: (error: Error | null, body?: unknown) => void,
      ) => {
        // A null-prototype record: a field named __proto__ stays a plain field.
        const fields: Record<string, string> = Object.create(null);
        for (const [name, value] of new URLSearchParams(body.toString()))
          if (!(name in fields)) fields[name] = value;
        done(null, fields);
      },
    );

    scope.addHook("onRequest", async (request, reply) => {
      if (request.url.startsWith("/assets/")) return;
      const sessionId = cookies.readSession(request);
      if (sessionId === undefined) return;
      const session = await sessions.resolve(sessionId);
      if (session === undefined) cookies.clearSession(reply);
      else setWebSession(request, session);
    });

    scope.addHook("preHandler", async (request) => checkStateChange(request));

    scope.addHook("onSend", async (request, reply, payload) => {
      void reply.headers(headers);
      // Pages show live state and are per user: never from a cache, never kept by a shared one.
      if (!request.url.startsWith("/assets/")) void reply.header("cache-control", "no-store");
      return payload;
    });

    scope.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) =>
      sendError(context, error, request, reply),
    );

    registerAssetRoutes(scope);
    registerLoginRoutes(scope, context);
    registerOrgPages(scope, context);
    registerAccountRoutes(scope, context);
    registerAuditRoutes(scope, context);
    registerBoardRoutes(scope, context, { data: boardData, hub, headers });
    registerEmergencyPages(scope, context, boardData);
    registerHistoryPages(scope, context);
    registerChannelPages(scope, context);
    registerPolicyPages(scope, context);
    registerTemplatePages(scope, context);

    scope.get("/", async (request, reply) => reply.redirect(webSession(request) ? "/orgs" : "/login"));

    // Anything else under GET: an HTML 404 for pages, the API's JSON 404 for API paths (the root not-found
    // handler still answers every other method).
    scope.get("/*", async (request, reply) => {
      const path = request.url.split("?")[0] ?? "";
      if (path.startsWith("/api/") || path === "/api") {
        const { status, body } = toResponse(new RelayError("ERR_NOT_FOUND", `No route for GET ${path}`));
        return reply.code(status).send(body);
      }
      throw new RelayError("ERR_NOT_FOUND", "There is no page at this address.");
    });
  });
}

/** Cross-site marks, then the session's CSRF token, on every POST/PUT/PATCH/DELETE of the web app. */
function checkStateChange(request: FastifyRequest): void {
  if (isSafeMethod(request.method)) return;
  const reason = crossSiteReason({
    method: request.method,
    origin: header(request, "origin"),
    secFetchSite: header(request, "sec-fetch-site"),
    host: request.host,
  });
  if (reason !== undefined) {
    request.log.warn({ reason }, "web request refused as cross-site");
    throw new RelayError("ERR_CSRF", `This request was refused because ${reason}.`);
  }
  const config = request.routeOptions.config as { loginForm?: boolean } | undefined;
  if (config?.loginForm) return;
  const session = webSession(request);
  if (session === undefined)
    throw new RelayError("ERR_UNAUTHORIZED", "Your session has ended; sign in again.");
  const body = request.body as Record<string, unknown> | undefined;
  const presented = header(request, CSRF_HEADER) ?? body?.[CSRF_FIELD];
  if (!csrfTokenMatches(session.csrfToken, presented)) {
    request.log.warn({ accountId: session.account.id }, "web request refused: missing or wrong CSRF token");
    throw new RelayError(
      "ERR_CSRF",
      "This form has expired or did not come from this site. Reload the page and try again.",
    );
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function sendError(
  context: WebContext,
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { status, body } = toResponse(error);
  if (status >= 500) request.log.error({ err: error }, "web request failed");
  else request.log.info({ code: body.error.code, status }, "web request rejected");
  const session = webSession(request);
  if (body.error.code === "ERR_UNAUTHORIZED") {
    // Pages send people to the sign-in form and back; a POST cannot be replayed after signing in.
    const next = request.method === "GET" ? request.url : "/";
    return reply
      .code(303)
      .header("location", `/login?next=${encodeURIComponent(next)}`)
      .send();
  }
  const message =
    error instanceof RelayError
      ? error.message
      : status === 413
        ? "The form was too large."
        : status >= 500
          ? "The relay could not complete this request; the details are in its log."
          : (body.error.message ?? "The request was refused.");
  return context.send(
    reply,
    status,
    errorView({
      status,
      message,
      ...(session ? { viewer: { account: session.account, csrfToken: session.csrfToken } } : {}),
    }),
  );
}
