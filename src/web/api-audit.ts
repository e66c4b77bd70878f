import type { FastifyInstance } from "fastify";
import type { AuditLogStore } from "../storage/audit-log-store.ts";

const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
// Path parameters that are credentials (an acknowledgement link's token) never reach the log.
const SECRET_PARAMS = new Set(["token"]);

/**
 * Audit entries for the JSON admin API: every successful change made with the bearer token is recorded as
 * `api.<METHOD> <route pattern>`, with the route's ids. Bodies are not recorded: they may hold secrets. Graph's
 * webhook and the OAuth callback carry no admin credential and are not admin changes. Register before routes.
 */
export function registerApiAudit(app: FastifyInstance, audit: AuditLogStore): void {
  app.addHook("onResponse", async (request, reply) => {
    if (!CHANGES.has(request.method) || reply.statusCode >= 400) return;
    if (!request.url.startsWith("/api/") || typeof request.headers.authorization !== "string") return;
    const route = request.routeOptions.url ?? "";
    const params = Object.fromEntries(
      Object.entries((request.params ?? {}) as Record<string, string>).filter(
        ([name]) => !SECRET_PARAMS.has(name),
      ),
    );
    const ids = Object.values(params);
    try {
      await audit.append({
        actor: "admin API token",
        action: `api.${request.method.toLowerCase()}`,
        targetType: "route",
        targetId: ids.length > 0 ? ids.join(",") : null,
        summary: `${request.method} ${route} answered ${reply.statusCode}`,
        details: { route, params },
        clientAddress: request.ip,
      });
    } catch (error) {
      // The change itself succeeded; a lost audit entry is logged, not turned into a failed response.
      request.log.error({ err: error }, "could not write the audit entry of an admin API change");
    }
  });
}
