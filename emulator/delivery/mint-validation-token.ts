import { SignJWT } from "jose";
import { GRAPH_CHANGE_TRACKING_APP_ID, LOGIN_HOST, type EmulatorContext } from "../emulator-context.ts";
import { newGuid } from "../ids.ts";

let mintedCount = 0;

/**
 * One token per (app, tenant) pair in a rich batch, signed with the identity platform's keys
 * (https://learn.microsoft.com/graph/change-notifications-with-resource-data#validation-tokens-in-the-change-notification).
 * v1 tokens carry `appid` and the sts.windows.net issuer; v2 tokens carry `azp` and the v2.0 issuer.
 */
export async function mintValidationToken(
  ctx: EmulatorContext,
  appId: string,
  tenantId: string,
): Promise<string> {
  const configured = ctx.settings.validationTokenVersion;
  const version = configured === "alternate" ? (mintedCount++ % 2 === 0 ? "1.0" : "2.0") : configured;
  const iat = Math.floor(ctx.clock.now() / 1000);
  const claims: Record<string, unknown> =
    version === "1.0"
      ? {
          iss: `https://sts.windows.net/${tenantId}/`,
          appid: GRAPH_CHANGE_TRACKING_APP_ID,
          appidacr: "2",
          ver: "1.0",
        }
      : { iss: `${LOGIN_HOST}/${tenantId}/v2.0`, azp: GRAPH_CHANGE_TRACKING_APP_ID, azpacr: "2", ver: "2.0" };
  return (
    new SignJWT({
      ...claims,
      aud: appId,
      tid: tenantId,
      oid: newGuid(),
      sub: newGuid(),
      idp: `https://sts.windows.net/${tenantId}/`,
    })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: ctx.keys.kid })
      .setIssuedAt(iat)
      .setNotBefore(iat)
      // Entra access tokens, which these are (aud = the subscribing app), live 60-90 minutes by default; the short
      // end, so a relay that checks them at processing time instead of arrival fails its backlog tests.
      .setExpirationTime(iat + 3600)
      .sign(ctx.keys.privateKey)
  );
}
