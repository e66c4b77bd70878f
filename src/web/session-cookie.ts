import type { FastifyReply, FastifyRequest } from "fastify";
import { parseCookies, serializeCookie } from "./cookies.ts";

export interface SessionCookies {
  readSession(request: FastifyRequest): string | undefined;
  setSession(reply: FastifyReply, sessionId: string): void;
  clearSession(reply: FastifyReply): void;
  /** The sign-in form's double-submit token (login CSRF, before any session exists). */
  readLogin(request: FastifyRequest): string | undefined;
  setLogin(reply: FastifyReply, token: string): void;
  clearLogin(reply: FastifyReply): void;
}

/**
 * Cookie names and attributes. Over https: the `__Host-` prefix (the browser then insists on Secure, Path=/ and
 * no Domain, so a sibling subdomain cannot plant one) and `Secure`; over http (localhost, tests, demo) neither,
 * or the browser would drop them. HttpOnly always; SameSite=Lax so a link from an alert e-mail to the board
 * arrives signed in, while every state-changing request also needs the CSRF token.
 */
export function createSessionCookies(options: { secure: boolean; absoluteMs: number }): SessionCookies {
  const prefix = options.secure ? "__Host-" : "";
  const session = `${prefix}relay_session`;
  const login = `${prefix}relay_login`;
  const base = { secure: options.secure, sameSite: "Lax" as const };
  // Fastify appends repeated set-cookie headers instead of replacing them.
  const add = (reply: FastifyReply, cookie: string) => void reply.header("set-cookie", cookie);
  return {
    readSession: (request) => parseCookies(request.headers.cookie).get(session),
    setSession: (reply, sessionId) =>
      add(reply, serializeCookie(session, sessionId, { ...base, maxAge: options.absoluteMs / 1000 })),
    clearSession: (reply) => add(reply, serializeCookie(session, "", { ...base, maxAge: 0 })),
    readLogin: (request) => parseCookies(request.headers.cookie).get(login),
    setLogin: (reply, token) => add(reply, serializeCookie(login, token, { ...base, maxAge: 3600 })),
    clearLogin: (reply) => add(reply, serializeCookie(login, "", { ...base, maxAge: 0 })),
  };
}
