import type { FastifyInstance, preHandlerHookHandler } from "fastify";
import { RelayError } from "../core/errors.ts";
import type { ConnectOrgFlow } from "../flows/connect-org.ts";
import type { TokenKeeper } from "../flows/keep-tokens.ts";
import { connectFailureView, connectSuccessView } from "./views/connect-result-view.ts";

type OrgParams = { orgId: string };

interface OperationalEventView {
  id: string;
  kind: string;
  severity: string;
  message: string;
  details: Record<string, unknown> | null;
  createdAt: number;
}

/** The seed paths: connect, Microsoft's callback, status and "test connection now". */
export function registerConnectRoutes(
  app: FastifyInstance,
  deps: {
    connect: ConnectOrgFlow;
    keeper: TokenKeeper;
    requireAdmin: preHandlerHookHandler;
    orgName(orgId: string): Promise<string | undefined>;
    events: { listRecent(options: { orgId: string; limit: number }): Promise<OperationalEventView[]> };
    /** The org's Graph subscriptions, added to the status as `subscriptions`. */
    subscriptionStatus?(orgId: string): Promise<unknown[]>;
    /** Messages handed on so far, by how they arrived, added to the status as `messagesReceived`. */
    messageCounts?(orgId: string): Promise<Record<string, number>>;
  },
): void {
  const fullStatus = async (orgId: string) => {
    const connection = await deps.keeper.status(orgId);
    return {
      ...connection,
      ...(deps.subscriptionStatus ? { subscriptions: await deps.subscriptionStatus(orgId) } : {}),
      ...(deps.messageCounts ? { messagesReceived: await deps.messageCounts(orgId) } : {}),
    };
  };

  app.get<{
    Params: OrgParams;
    Querystring: { login_hint?: string; replace_user?: string; format?: string };
  }>("/api/org/:orgId/ms-teams/connect", { preHandler: deps.requireAdmin }, async (req, reply) => {
    const { authorizeUrl } = await deps.connect.start(req.params.orgId, {
      ...(req.query.login_hint ? { loginHint: req.query.login_hint } : {}),
      replaceUser: req.query.replace_user === "true",
    });
    if (req.query.format === "json") return { authorizeUrl };
    return reply.code(302).header("cache-control", "no-store").redirect(authorizeUrl);
  });

  const callback = async (orgId: string, values: Record<string, string | undefined>) => {
    try {
      const connection = await deps.connect.complete(orgId, values);
      return {
        status: 200,
        html: connectSuccessView({
          orgName: (await deps.orgName(orgId)) ?? orgId,
          userPrincipalName: connection.userPrincipalName,
          displayName: connection.userDisplayName,
          tenantId: connection.tenantId,
          orgId,
        }),
      };
    } catch (error) {
      if (!(error instanceof RelayError)) throw error;
      return {
        status: error.httpStatus,
        html: connectFailureView({ reason: error.message, code: error.code, orgId }),
      };
    }
  };
  app.get<{ Params: OrgParams; Querystring: Record<string, string> }>(
    "/api/org/:orgId/ms-teams/callback",
    async (req, reply) => {
      const result = await callback(req.params.orgId, req.query);
      return reply
        .code(result.status)
        .type("text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .send(result.html);
    },
  );
  // response_mode=form_post arrives as a cross-site POST; the state row, not a cookie, ties it to the request.
  app.post<{ Params: OrgParams; Body: Record<string, string> }>(
    "/api/org/:orgId/ms-teams/callback",
    async (req, reply) => {
      const result = await callback(req.params.orgId, req.body ?? {});
      return reply
        .code(result.status)
        .type("text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .send(result.html);
    },
  );

  app.get<{ Params: OrgParams }>(
    "/api/org/:orgId/ms-teams/status",
    { preHandler: deps.requireAdmin },
    async (req) => fullStatus(req.params.orgId),
  );
  // Operational events (connected, refresh failed, re-authorization required, secret expiring), newest first.
  app.get<{ Params: OrgParams; Querystring: { limit?: string } }>(
    "/api/org/:orgId/events",
    { preHandler: deps.requireAdmin },
    async (req) => {
      if ((await deps.orgName(req.params.orgId)) === undefined)
        throw new RelayError("ERR_NOT_FOUND", `No org ${req.params.orgId}.`);
      const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
      const events = await deps.events.listRecent({ orgId: req.params.orgId, limit });
      return { events: events.map((e) => ({ ...e, createdAt: new Date(e.createdAt).toISOString() })) };
    },
  );

  app.post<{ Params: OrgParams }>(
    "/api/org/:orgId/ms-teams/refresh",
    { preHandler: deps.requireAdmin },
    async (req) => {
      const status = await deps.keeper.status(req.params.orgId);
      if (status.connection.state === "disconnected") {
        throw new RelayError(
          "ERR_ORG_INCOMPLETE",
          `Org ${req.params.orgId} is not connected yet: use /api/org/${req.params.orgId}/ms-teams/connect first.`,
        );
      }
      await deps.keeper.refresh(req.params.orgId, "manual");
      return fullStatus(req.params.orgId);
    },
  );
}
