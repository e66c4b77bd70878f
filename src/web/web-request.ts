import type { FastifyReply, FastifyRequest } from "fastify";
import type { Role } from "../core/account.ts";
import { RelayError } from "../core/errors.ts";
import { can, hasRole, type Permission } from "../core/role-permissions.ts";
import type { ActiveSession } from "./web-sessions.ts";

// The signed-in session of a web request, set by the web app's onRequest hook. A WeakMap rather than a request
// decorator: nothing outside src/web/ can see or depend on it.
const sessions = new WeakMap<FastifyRequest, ActiveSession>();

export function setWebSession(request: FastifyRequest, session: ActiveSession): void {
  sessions.set(request, session);
}

/** The session, or undefined when nobody is signed in. */
export function webSession(request: FastifyRequest): ActiveSession | undefined {
  return sessions.get(request);
}

/** The session of a route behind `requireRole`/`requirePermission` (throws ERR_UNAUTHORIZED otherwise). */
export function signedIn(request: FastifyRequest): ActiveSession {
  const session = sessions.get(request);
  if (session === undefined) throw new RelayError("ERR_UNAUTHORIZED", "Sign in first");
  return session;
}

/** Route options of the sign-in form, which carries its own login token instead of a session's CSRF token. */
export const LOGIN_FORM = { config: { loginForm: true } } as const;

export type WebGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * A preHandler for web routes: nobody signed in -> ERR_UNAUTHORIZED (the web error handler sends GETs to the
 * sign-in page), a weaker role -> ERR_FORBIDDEN (403 page). Roles are ordered: admin > responder > viewer.
 */
export function requireRole(role: Role): WebGuard {
  return async (request) => {
    const { account } = signedIn(request);
    if (!hasRole(account.role, role)) {
      throw new RelayError(
        "ERR_FORBIDDEN",
        `This needs the ${role} role; you are signed in as ${account.role}`,
      );
    }
  };
}

export function requirePermission(permission: Permission): WebGuard {
  return async (request) => {
    const { account } = signedIn(request);
    if (!can(account.role, permission)) {
      throw new RelayError("ERR_FORBIDDEN", `Your role (${account.role}) may not do this`);
    }
  };
}

/** Form fields of a urlencoded body (the web app's parser gives a null-prototype record of strings). */
export function formOf(request: FastifyRequest): Record<string, string> {
  const body = request.body;
  return typeof body === "object" && body !== null ? (body as Record<string, string>) : Object.create(null);
}
