import { errors, jwtVerify } from "jose";
import { GRAPH_RESOURCE, GRAPH_RESOURCE_APP_ID, type EmulatorContext } from "../emulator-context.ts";
import type { User } from "../emulator-state.ts";
import { GraphError } from "./graph-error.ts";

export interface GraphCaller {
  user: User;
  appId: string;
  tenantId: string;
  scopes: string[];
  /** `exp` of the presented token, in ms: a subscription authorized with it can deliver until about then. */
  tokenExpiresAt: number;
}

/** Graph's 401s name the authority to get a token from (https://learn.microsoft.com/graph/errors). */
function unauthorized(message: string): GraphError {
  return new GraphError(401, "InvalidAuthenticationToken", message, {
    "www-authenticate": `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="${GRAPH_RESOURCE_APP_ID}"`,
  });
}

/** Checks the bearer token the way Graph does: signature, lifetime, audience, a delegated caller. */
export async function authenticateGraphRequest(
  ctx: EmulatorContext,
  authorization: string | undefined,
): Promise<GraphCaller> {
  if (!authorization?.startsWith("Bearer ")) {
    throw unauthorized("Access token is empty.");
  }
  let payload;
  try {
    ({ payload } = await jwtVerify(authorization.slice(7), ctx.keys.publicKey, {
      algorithms: ["RS256"],
      currentDate: new Date(ctx.clock.now()),
      clockTolerance: 0,
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) {
      throw unauthorized("Lifetime validation failed, the token is expired.");
    }
    throw unauthorized("Access token validation failure. Invalid audience or signature.");
  }
  if (payload.aud !== GRAPH_RESOURCE && payload.aud !== GRAPH_RESOURCE_APP_ID) {
    throw unauthorized("Access token validation failure. Invalid audience.");
  }
  if (typeof payload.scp !== "string") {
    // Everything the relay does runs with a delegated token; app-only tokens carry `roles` instead of `scp`.
    throw new GraphError(403, "Forbidden", "This operation requires a delegated (user) token.");
  }
  const user = typeof payload.oid === "string" ? ctx.state.users.get(payload.oid) : undefined;
  if (!user) throw unauthorized("The user of this token no longer exists.");
  return {
    user,
    appId: String(payload.appid),
    tenantId: String(payload.tid),
    scopes: payload.scp.split(" ").filter(Boolean),
    tokenExpiresAt: (payload.exp ?? 0) * 1000,
  };
}

/** Graph answers 403 naming the scopes it would have accepted. */
export function requireScope(caller: GraphCaller, anyOf: string[]): void {
  if (anyOf.some((scope) => caller.scopes.includes(scope))) return;
  throw new GraphError(
    403,
    "Forbidden",
    `Missing scope permissions on the request. API requires one of '${anyOf.join(", ")}'. Scopes on the request '${caller.scopes.join(", ")}'`,
  );
}
