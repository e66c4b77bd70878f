import type { FastifyReply, FastifyRequest } from "fastify";
import { RelayError } from "../core/errors.ts";

/** A request hook that lets admins through and throws ERR_UNAUTHORIZED (401) otherwise. */
export type AdminGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Checks a presented admin credential; for the bearer token, `verifyAdminToken` bound to the database. */
export type VerifyAdminToken = (token: string) => Promise<boolean>;

/**
 * Admin-only routes: `Authorization: Bearer <token>`. Missing or wrong credentials throw ERR_UNAUTHORIZED,
 * which the error handler answers 401 with `WWW-Authenticate: Bearer`; the two cases get the same answer.
 *
 * Usable as `onRequest` (preferred: runs before the body is read, so anonymous callers cannot make the relay
 * parse their payloads) or `preHandler`. A session cookie will become a second accepted credential: add it to
 * `credentialsOf` and a verifier here, the routes do not change.
 */
export function requireAdmin(verify: VerifyAdminToken): AdminGuard {
  return async (request) => {
    const { bearer } = credentialsOf(request);
    if (bearer === undefined) {
      throw new RelayError(
        "ERR_UNAUTHORIZED",
        "Admin credentials required: send Authorization: Bearer <admin token>",
      );
    }
    if (!(await verify(bearer))) {
      throw new RelayError("ERR_UNAUTHORIZED", "The admin token is not valid");
    }
  };
}

interface PresentedCredentials {
  bearer?: string;
}

function credentialsOf(request: FastifyRequest): PresentedCredentials {
  const header = request.headers.authorization;
  if (typeof header !== "string") return {};
  // RFC 7235: the scheme is case-insensitive. The token is taken as is (not only RFC 6750's token68
  // characters), because RELAY_ADMIN_TOKEN may be any string of 32+ characters.
  const match = /^Bearer +(.+)$/i.exec(header);
  const token = match?.[1]?.trim();
  return token === undefined || token === "" ? {} : { bearer: token };
}
