import { createHash, randomInt } from "node:crypto";
import { SignJWT } from "jose";
import { GRAPH_RESOURCE, LOGIN_HOST, type EmulatorContext } from "../emulator-context.ts";
import type { AppRegistration, User } from "../emulator-state.ts";
import { newGuid, newOpaque } from "../ids.ts";

const OIDC_SCOPES = new Set(["openid", "profile", "offline_access", "email"]);

/** Delegated Microsoft Graph permissions the emulator knows. `ChatMessages.Read` (the source document's spelling) is not one. */
export const GRAPH_DELEGATED_SCOPES = new Set([
  "User.Read",
  "User.ReadBasic.All",
  "Chat.Read",
  "Chat.ReadBasic",
  "Chat.ReadWrite",
  "ChatMessage.Read",
  "ChatMessage.Send",
]);

const REFRESH_TOKEN_INACTIVITY_MS = 90 * 24 * 60 * 60_000;

/** Splits a `scope` parameter, dropping the Graph resource prefix. Returns the unknown ones separately. */
export function parseScopes(raw: string): { scopes: string[]; unknown: string[] } {
  const scopes: string[] = [];
  const unknown: string[] = [];
  for (const part of raw.split(/\s+/).filter(Boolean)) {
    const name = part.startsWith(`${GRAPH_RESOURCE}/`) ? part.slice(GRAPH_RESOURCE.length + 1) : part;
    if (name === ".default") continue;
    const known = [...OIDC_SCOPES, ...GRAPH_DELEGATED_SCOPES].find(
      (s) => s.toLowerCase() === name.toLowerCase(),
    );
    if (known) {
      if (!scopes.includes(known)) scopes.push(known);
    } else unknown.push(name);
  }
  return { scopes, unknown };
}

export interface TokenResponse {
  token_type: "Bearer";
  scope: string;
  expires_in: number;
  ext_expires_in: number;
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  client_info: string;
}

/** Issues the token-endpoint response for a user, with lifetimes varying as Entra's do (60-90 min). */
export async function issueTokens(
  ctx: EmulatorContext,
  app: AppRegistration,
  user: User,
  scopes: string[],
  nonce: string | null,
): Promise<TokenResponse> {
  const now = ctx.clock.now();
  const iat = Math.floor(now / 1000);
  const expiresIn = randomInt(3600, 5401);
  const graphScopes = scopes.filter((s) => !OIDC_SCOPES.has(s));
  const jti = newGuid();
  const accessToken = await new SignJWT({
    aud: GRAPH_RESOURCE,
    iss: `https://sts.windows.net/${user.tenantId}/`,
    appid: app.clientId,
    appidacr: "1",
    app_displayname: app.displayName,
    idtyp: "user",
    name: user.displayName,
    oid: user.id,
    scp: [...graphScopes, ...scopes.filter((s) => s === "openid" || s === "profile" || s === "email")].join(
      " ",
    ),
    sub: pairwiseSubject(user.id, GRAPH_RESOURCE),
    tid: user.tenantId,
    unique_name: user.userPrincipalName,
    upn: user.userPrincipalName,
    uti: jti,
    ver: "1.0",
  })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: ctx.keys.kid })
    .setIssuedAt(iat)
    .setNotBefore(iat - 300)
    .setExpirationTime(iat + expiresIn)
    .sign(ctx.keys.privateKey);
  ctx.state.accessTokens.push({
    jti,
    tenantId: user.tenantId,
    clientId: app.clientId,
    userId: user.id,
    scopes: graphScopes,
    issuedAt: now,
    expiresAt: now + expiresIn * 1000,
    token: accessToken,
  });

  const response: TokenResponse = {
    token_type: "Bearer",
    scope: scopes.filter((s) => s !== "offline_access").join(" "),
    expires_in: expiresIn,
    ext_expires_in: expiresIn,
    access_token: accessToken,
    client_info: Buffer.from(JSON.stringify({ uid: user.id, utid: user.tenantId })).toString("base64url"),
  };
  if (scopes.includes("offline_access")) {
    const refreshToken = `0.A${newOpaque(96)}`;
    ctx.state.refreshTokens.set(refreshToken, {
      token: refreshToken,
      tenantId: user.tenantId,
      clientId: app.clientId,
      userId: user.id,
      scopes,
      issuedAt: now,
      expiresAt: now + REFRESH_TOKEN_INACTIVITY_MS,
      usedAt: null,
    });
    response.refresh_token = refreshToken;
  }
  if (scopes.includes("openid")) {
    const claims: Record<string, unknown> = {
      aud: app.clientId,
      iss: `${LOGIN_HOST}/${user.tenantId}/v2.0`,
      tid: user.tenantId,
      oid: user.id,
      sub: pairwiseSubject(user.id, app.clientId),
      ver: "2.0",
      uti: newGuid(),
      rh: "0.emulator",
    };
    if (scopes.includes("profile")) {
      claims.preferred_username = user.userPrincipalName;
      claims.name = user.displayName;
    }
    if (nonce) claims.nonce = nonce;
    response.id_token = await new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: ctx.keys.kid })
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + 3600)
      .sign(ctx.keys.privateKey);
  }
  return response;
}

/** `sub` is pairwise per application (https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference). */
function pairwiseSubject(userId: string, audience: string): string {
  return createHash("sha256").update(`${userId}|${audience}`).digest("base64url").slice(0, 43);
}
