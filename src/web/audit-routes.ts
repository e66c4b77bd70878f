import type { FastifyInstance } from "fastify";
import type { WebContext } from "./web-context.ts";
import { requirePermission } from "./web-request.ts";
import { auditView } from "./views/audit-view.ts";

const PAGE_SIZE = 50;
const ENTRY_ID = /^[0-9a-z]{1,40}$/;

/** `GET /audit`: the audit log, newest first, 50 a page (`?before=<id>` pages back). Admins only. */
export function registerAuditRoutes(scope: FastifyInstance, context: WebContext): void {
  scope.get<{ Querystring: { before?: string } }>(
    "/audit",
    { preHandler: requirePermission("audit.read") },
    async (request, reply) => {
      const before =
        request.query.before && ENTRY_ID.test(request.query.before) ? request.query.before : undefined;
      const entries = await context.deps.audit.list({ limit: PAGE_SIZE + 1, ...(before ? { before } : {}) });
      return context.send(
        reply,
        200,
        auditView({
          viewer: context.viewer(request),
          flash: await context.takeFlash(request),
          entries: entries.slice(0, PAGE_SIZE),
          olderFrom: entries.length > PAGE_SIZE ? entries[PAGE_SIZE - 1]!.id : undefined,
          paged: before !== undefined,
        }),
      );
    },
  );
}
