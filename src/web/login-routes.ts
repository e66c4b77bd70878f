import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { safeReturnPath } from "../core/safe-return-path.ts";
import { csrfTokenMatches } from "./csrf.ts";
import { createSignIn } from "./sign-in.ts";
import type { WebContext } from "./web-context.ts";
import { LOGIN_FORM, formOf, signedIn, webSession } from "./web-request.ts";
import { loginView } from "./views/login-view.ts";

const NOTICES: Readonly<Record<string, string>> = {
  signed_out: "You are signed out.",
  expired: "Your session ended. Sign in again.",
};
const INVALID = "Wrong username or password.";

/** `GET|POST /login`, `POST /logout`. */
export function registerLoginRoutes(scope: FastifyInstance, context: WebContext): void {
  const { deps, cookies, sessions } = context;
  const signIn = createSignIn({
    accounts: deps.accounts,
    hasher: deps.hasher,
    throttle: deps.loginThrottle,
    clock: deps.clock,
  });

  /** The sign-in form with a fresh double-submit token (login CSRF: nobody can sign a victim in as someone else). */
  const showForm = (
    reply: Parameters<WebContext["send"]>[0],
    status: number,
    input: { next: string; username?: string; error?: string; notice?: string },
  ) => {
    const loginToken = randomBytes(24).toString("base64url");
    cookies.setLogin(reply, loginToken);
    return context.send(reply, status, loginView({ ...input, loginToken }));
  };

  scope.get<{ Querystring: { next?: string; notice?: string } }>("/login", async (request, reply) => {
    const next = safeReturnPath(request.query.next, "/orgs");
    if (webSession(request)) return reply.redirect(next);
    const notice = request.query.notice ? NOTICES[request.query.notice] : undefined;
    return showForm(reply, 200, { next, ...(notice ? { notice } : {}) });
  });

  scope.post("/login", LOGIN_FORM, async (request, reply) => {
    const form = formOf(request);
    const next = safeReturnPath(form.next, "/orgs");
    const username = typeof form.username === "string" ? form.username.slice(0, 200) : "";
    const loginCookie = cookies.readLogin(request);
    if (loginCookie === undefined || !csrfTokenMatches(loginCookie, form._login)) {
      request.log.warn("sign-in refused: missing or wrong login token");
      return showForm(reply, 403, {
        next,
        username,
        error: "The sign-in form expired or did not come from this site. Try again.",
      });
    }
    const result = await signIn.attempt(username, form.password ?? "", request.ip);
    if (!result.ok && result.reason === "locked") {
      const minutes = Math.ceil(result.retryAfterMs / 60_000);
      void reply.header("retry-after", String(Math.ceil(result.retryAfterMs / 1000)));
      return showForm(reply, 429, {
        next,
        username,
        error: `Too many failed sign-ins. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
      });
    }
    if (!result.ok) {
      request.log.info({ lockStarted: result.lockStarted }, "sign-in failed");
      if (result.lockStarted) {
        await context.audit(request, {
          actor: "anonymous",
          action: "session.locked",
          targetType: "username",
          targetId: username.trim().toLowerCase().slice(0, 64),
          summary: "Sign-in locked after repeated failures",
        });
      }
      return showForm(reply, 401, { next, username, error: INVALID });
    }

    // Session rotation: whatever session the browser had is ended, and a new id is issued.
    const previous = cookies.readSession(request);
    if (previous !== undefined) await sessions.end(previous);
    const { sessionId, session } = await sessions.start(result.account.id);
    cookies.setSession(reply, sessionId);
    cookies.clearLogin(reply);
    await deps.audit.append({
      actor: result.account.username,
      actorAccountId: result.account.id,
      action: "session.login",
      targetType: "account",
      targetId: result.account.id,
      summary: "Signed in",
      clientAddress: request.ip,
    });
    request.log.info({ accountId: session.account.id }, "signed in");
    return context.seeOther(reply, next);
  });

  scope.post("/logout", async (request, reply) => {
    const session = signedIn(request);
    const sessionId = cookies.readSession(request);
    if (sessionId !== undefined) await sessions.end(sessionId);
    cookies.clearSession(reply);
    await context.audit(request, {
      action: "session.logout",
      targetType: "account",
      targetId: session.account.id,
      summary: "Signed out",
    });
    return context.seeOther(reply, "/login?notice=signed_out");
  });
}
