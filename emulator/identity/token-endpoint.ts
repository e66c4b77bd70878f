import { createHash, timingSafeEqual } from "node:crypto";
import type { EmulatorContext } from "../emulator-context.ts";
import type { AppRegistration } from "../emulator-state.ts";
import { takeFault } from "../faults.ts";
import { newGuid } from "../ids.ts";
import { entraErrorBody } from "./entra-errors.ts";
import { issueTokens, parseScopes } from "./issue-tokens.ts";
import { findAppForTenantSegment } from "./resolve-tenant.ts";

export interface EndpointResult {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
  /** A `hang` fault: never answer. */
  hang?: boolean;
}

class EntraFailure extends Error {
  readonly aadsts: number;
  readonly override: { detail?: string; error?: string };
  constructor(aadsts: number, override: { detail?: string; error?: string } = {}) {
    super(`AADSTS${aadsts}`);
    this.aadsts = aadsts;
    this.override = override;
  }
}

function errorResult(
  ctx: EmulatorContext,
  aadsts: number,
  override: { detail?: string; error?: string } = {},
): EndpointResult {
  const { status, body } = entraErrorBody(
    aadsts,
    ctx.clock.now(),
    { traceId: newGuid(), correlationId: newGuid() },
    override,
  );
  return { status, headers: { "cache-control": "no-store, no-cache" }, body };
}

/**
 * `POST /{tenant}/oauth2/v2.0/token` for `authorization_code` and `refresh_token` grants
 * (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow).
 */
export async function handleTokenRequest(
  ctx: EmulatorContext,
  tenantSegment: string,
  form: Record<string, string>,
  authorizationHeader: string | undefined,
): Promise<EndpointResult> {
  const fault = takeFault(ctx.state, "token", `/${tenantSegment}/oauth2/v2.0/token`);
  if (fault?.kind === "hang") return { status: 0, body: null, hang: true };
  if (fault?.kind === "http") {
    const status = fault.status ?? 503;
    const aadsts = status === 429 ? 90055 : 50033;
    const result = errorResult(
      ctx,
      aadsts,
      status === 429 ? {} : { error: status >= 500 ? "temporarily_unavailable" : "invalid_request" },
    );
    result.status = status;
    if (fault.retryAfter !== undefined)
      result.headers = { ...result.headers, "retry-after": String(fault.retryAfter) };
    return result;
  }
  if (fault?.kind === "aadsts") return errorResult(ctx, fault.aadsts ?? 50000);

  try {
    const client = authenticateClient(ctx, tenantSegment, form, authorizationHeader);
    switch (form.grant_type) {
      case "authorization_code":
        return {
          status: 200,
          headers: { "cache-control": "no-store, no-cache" },
          body: await redeemCode(ctx, client, form),
        };
      case "refresh_token":
        return {
          status: 200,
          headers: { "cache-control": "no-store, no-cache" },
          body: await redeemRefreshToken(ctx, client, form),
        };
      case undefined:
      case "":
        throw new EntraFailure(900144);
      default:
        return errorResult(ctx, 70003, {
          error: "unsupported_grant_type",
          detail: `The app requested an unsupported grant type '${form.grant_type}'.`,
        });
    }
  } catch (error) {
    if (error instanceof EntraFailure) return errorResult(ctx, error.aadsts, error.override);
    throw error;
  }
}

function authenticateClient(
  ctx: EmulatorContext,
  tenantSegment: string,
  form: Record<string, string>,
  authorizationHeader: string | undefined,
): AppRegistration {
  let clientId = form.client_id;
  let secret = form.client_secret;
  if (authorizationHeader?.startsWith("Basic ")) {
    const decoded = Buffer.from(authorizationHeader.slice(6), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    clientId = decodeURIComponent(decoded.slice(0, colon));
    secret = decodeURIComponent(decoded.slice(colon + 1));
  }
  if (!clientId)
    throw new EntraFailure(900144, {
      detail: "The request body must contain the following parameter: 'client_id'.",
    });
  const found = findAppForTenantSegment(ctx.state, tenantSegment, clientId);
  if (found === "unknown-tenant")
    throw new EntraFailure(90002, { detail: `Tenant '${tenantSegment}' not found.` });
  if (!found)
    throw new EntraFailure(700016, {
      detail: `Application with identifier '${clientId}' was not found in the directory.`,
    });
  if (!secret) throw new EntraFailure(7000218);
  const now = ctx.clock.now();
  const matching = found.secrets.find((s) => safeEqual(s.value, secret));
  if (!matching) throw new EntraFailure(7000215);
  if (matching.expiresAt !== null && matching.expiresAt <= now) {
    throw new EntraFailure(7000222, {
      detail: `The provided client secret keys for app '${found.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret.`,
    });
  }
  return found;
}

async function redeemCode(ctx: EmulatorContext, app: AppRegistration, form: Record<string, string>) {
  if (!form.code)
    throw new EntraFailure(900144, {
      detail: "The request body must contain the following parameter: 'code'.",
    });
  const record = ctx.state.authCodes.get(form.code);
  if (!record || record.clientId !== app.clientId)
    throw new EntraFailure(9002313, { error: "invalid_grant" });
  if (record.redeemed) throw new EntraFailure(54005);
  if (record.expiresAt <= ctx.clock.now()) throw new EntraFailure(70008);
  if (form.redirect_uri !== record.redirectUri) {
    throw new EntraFailure(50011, {
      error: "invalid_grant",
      detail: `The redirect URI '${form.redirect_uri ?? ""}' specified in the request does not match the redirect URI used to obtain the authorization code.`,
    });
  }
  if (record.codeChallenge) {
    if (!form.code_verifier) throw new EntraFailure(501481);
    const computed =
      record.codeChallengeMethod === "plain"
        ? form.code_verifier
        : createHash("sha256").update(form.code_verifier).digest("base64url");
    if (!safeEqual(computed, record.codeChallenge)) throw new EntraFailure(501481);
  }
  record.redeemed = true;
  const user = ctx.state.users.get(record.userId);
  if (!user) throw new EntraFailure(50020);
  return issueTokens(ctx, app, user, record.scopes, record.nonce);
}

async function redeemRefreshToken(ctx: EmulatorContext, app: AppRegistration, form: Record<string, string>) {
  if (!form.refresh_token)
    throw new EntraFailure(900144, {
      detail: "The request body must contain the following parameter: 'refresh_token'.",
    });
  const record = ctx.state.refreshTokens.get(form.refresh_token);
  if (!record || record.clientId !== app.clientId)
    throw new EntraFailure(9002313, { error: "invalid_grant" });
  const user = ctx.state.users.get(record.userId);
  if (!user) throw new EntraFailure(50020);
  const now = ctx.clock.now();
  if (record.issuedAt < user.tokensValidAfter) throw new EntraFailure(50173);
  if (record.expiresAt <= now) throw new EntraFailure(700082);
  let scopes = record.scopes;
  if (form.scope) {
    const requested = parseScopes(form.scope);
    if (requested.unknown.length > 0)
      throw new EntraFailure(70011, {
        error: "invalid_scope",
        detail: `The provided value for scope ${requested.unknown.join(" ")} is not valid.`,
      });
    const notGranted = requested.scopes.filter(
      (s) => !record.scopes.includes(s) && s !== "offline_access" && s !== "openid" && s !== "profile",
    );
    if (notGranted.length > 0)
      throw new EntraFailure(65001, {
        detail: `The user or administrator has not consented to use the application for ${notGranted.join(" ")}.`,
      });
    scopes = [...new Set([...requested.scopes, "offline_access"])];
  }
  // "The Microsoft identity platform doesn't revoke old refresh tokens when used to fetch new access tokens."
  // https://learn.microsoft.com/entra/identity-platform/refresh-tokens
  record.usedAt = now;
  return issueTokens(ctx, app, user, scopes, null);
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
