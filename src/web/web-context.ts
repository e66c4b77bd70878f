import type { FastifyReply, FastifyRequest } from "fastify";
import type { FlashMessage } from "../storage/session-store.ts";
import type { NewAuditEntry } from "../storage/audit-log-store.ts";
import type { SessionCookies } from "./session-cookie.ts";
import type { WebAppDeps } from "./web-app-deps.ts";
import { signedIn, webSession } from "./web-request.ts";
import type { WebSessions } from "./web-sessions.ts";
import type { SafeHtml } from "./views/html.ts";
import type { PageViewer } from "./views/layout.ts";

/** What every group of web routes gets: the deps plus the helpers shared by all pages. */
export interface WebContext {
  deps: WebAppDeps;
  sessions: WebSessions;
  cookies: SessionCookies;
  /** Sends a page (the security headers come from the web app's onSend hook). */
  send(reply: FastifyReply, status: number, body: SafeHtml): FastifyReply;
  /** The signed-in viewer for `page()`; throws ERR_UNAUTHORIZED when nobody is signed in. */
  viewer(request: FastifyRequest): PageViewer;
  /** Messages queued for this session by earlier requests (shown once). */
  takeFlash(request: FastifyRequest): Promise<FlashMessage[]>;
  /** Queues a message for the next page of this session (after a redirect). */
  flash(request: FastifyRequest, kind: FlashMessage["kind"], text: string): Promise<void>;
  /** 303 See Other: after a POST the browser GETs `location`, so a reload does not repeat the action. */
  seeOther(reply: FastifyReply, location: string): FastifyReply;
  /** Writes an audit entry as the signed-in user (or `actor` when given, e.g. before a session exists). */
  audit(request: FastifyRequest, entry: Omit<NewAuditEntry, "actor"> & { actor?: string }): Promise<void>;
}

export function createWebContext(
  deps: WebAppDeps,
  sessions: WebSessions,
  cookies: SessionCookies,
): WebContext {
  return {
    deps,
    sessions,
    cookies,
    send: (reply, status, body) => reply.code(status).type("text/html; charset=utf-8").send(body.value),
    viewer(request) {
      const session = signedIn(request);
      return { account: session.account, csrfToken: session.csrfToken };
    },
    async takeFlash(request) {
      const session = webSession(request);
      return session === undefined ? [] : deps.sessions.takeFlash(session.idHash);
    },
    async flash(request, kind, text) {
      const session = webSession(request);
      if (session !== undefined) await deps.sessions.addFlash(session.idHash, { kind, text });
    },
    seeOther: (reply, location) => reply.code(303).header("location", location).send(),
    async audit(request, entry) {
      const session = webSession(request);
      await deps.audit.append({
        ...entry,
        actor: entry.actor ?? session?.account.username ?? "anonymous",
        actorAccountId: entry.actorAccountId ?? session?.account.id ?? null,
        clientAddress: request.ip,
      });
    },
  };
}
