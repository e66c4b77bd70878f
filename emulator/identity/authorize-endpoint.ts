import type { EmulatorContext } from "../emulator-context.ts";
import type { AppRegistration, User } from "../emulator-state.ts";
import { newGuid, newOpaque } from "../ids.ts";
import { entraErrorBody } from "./entra-errors.ts";
import { parseScopes } from "./issue-tokens.ts";
import { findAppForTenantSegment, resolveTenant } from "./resolve-tenant.ts";
import { renderErrorPage, renderFormPost, renderSignInPage } from "./sign-in-page.ts";

export interface AuthorizeResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const CODE_LIFETIME_MS = 10 * 60_000;

/**
 * `GET /{tenant}/oauth2/v2.0/authorize` and the emulator's own consent form post back to it.
 * Errors about the client or the redirect URI are shown on a page: Entra never redirects to an unverified URI.
 * Everything else goes back to the redirect URI as `error` + `error_description`.
 */
export function handleAuthorize(
  ctx: EmulatorContext,
  tenantSegment: string,
  params: Record<string, string>,
): AuthorizeResult {
  const now = ctx.clock.now();
  const tenant = resolveTenant(ctx.state, tenantSegment);
  if (!tenant)
    return page(400, renderErrorPage(describe(ctx, 90002, `Tenant '${tenantSegment}' not found.`)));
  const clientId = params.client_id ?? "";
  const app = clientId ? findAppForTenantSegment(ctx.state, tenantSegment, clientId) : undefined;
  if (!app || app === "unknown-tenant") {
    return page(
      400,
      renderErrorPage(
        describe(ctx, 700016, `Application with identifier '${clientId}' was not found in the directory.`),
      ),
    );
  }
  const redirectUri = params.redirect_uri ?? "";
  if (!redirectUri) return page(400, renderErrorPage(describe(ctx, 900971)));
  // Redirect URIs match exactly, case included (https://learn.microsoft.com/entra/identity-platform/reply-url).
  if (!app.redirectUris.includes(redirectUri)) {
    return page(
      400,
      renderErrorPage(
        describe(
          ctx,
          50011,
          `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${app.clientId}'.`,
        ),
      ),
    );
  }
  const responseMode = params.response_mode ?? "query";
  const reply = (values: Record<string, string>): AuthorizeResult =>
    respond(redirectUri, responseMode, {
      ...values,
      ...(params.state !== undefined ? { state: params.state } : {}),
    });
  const fail = (error: string, aadsts: number, detail: string) =>
    reply({ error, error_description: describe(ctx, aadsts, detail) });

  if (responseMode !== "query" && responseMode !== "form_post") {
    return fail(
      "invalid_request",
      900144,
      `The provided value '${responseMode}' for the input parameter 'response_mode' is not supported for code.`,
    );
  }
  if (params.response_type !== "code") {
    return fail(
      "unsupported_response_type",
      70005,
      `The provided value for the input parameter 'response_type' is not allowed for this request. Expected value: 'code'.`,
    );
  }
  const { scopes, unknown } = parseScopes(params.scope ?? "");
  if (unknown.length > 0 || scopes.length === 0) {
    return fail(
      "invalid_scope",
      70011,
      `The provided value for the input parameter 'scope' is not valid. The scope ${unknown.join(" ")} is not valid.`,
    );
  }
  if (
    params.code_challenge &&
    (params.code_challenge_method ?? "plain") !== "S256" &&
    params.code_challenge_method !== "plain"
  ) {
    return fail("invalid_request", 9002313, "Invalid request. The code_challenge_method is not supported.");
  }

  const tenantId = tenant === "multi" ? app.tenantId : tenant.id;
  const tenantUsers = [...ctx.state.users.values()].filter((u) => u.tenantId === tenantId);

  if (params.emulator_action === "cancel") {
    return fail("access_denied", 65004, "User declined to consent to access the app.");
  }
  if (params.emulator_action === "consent") {
    const chosen = tenantUsers.find((u) => u.id === params.emulator_user);
    if (!chosen)
      return page(
        400,
        renderSignInPage({ app, tenantUsers, params, notice: "Choose an account of this tenant." }),
      );
    return reply({ code: issueCode(ctx, app, chosen, params, scopes, now), session_state: newGuid() });
  }

  if (params.prompt === "none") {
    return fail("login_required", 50058, "A silent sign-in request was sent but no user is signed in.");
  }
  const hinted = params.login_hint
    ? tenantUsers.find((u) => u.userPrincipalName.toLowerCase() === params.login_hint!.toLowerCase())
    : undefined;
  if (hinted && ctx.settings.autoConsent) {
    return reply({ code: issueCode(ctx, app, hinted, params, scopes, now), session_state: newGuid() });
  }
  return page(200, renderSignInPage({ app, tenantUsers, params }));
}

function issueCode(
  ctx: EmulatorContext,
  app: AppRegistration,
  user: User,
  params: Record<string, string>,
  scopes: string[],
  now: number,
): string {
  const code = `1.A${newOpaque(64)}`;
  ctx.state.authCodes.set(code, {
    code,
    tenantId: user.tenantId,
    clientId: app.clientId,
    userId: user.id,
    redirectUri: params.redirect_uri!,
    scopes,
    codeChallenge: params.code_challenge ?? null,
    codeChallengeMethod: params.code_challenge ? (params.code_challenge_method ?? "plain") : null,
    nonce: params.nonce ?? null,
    expiresAt: now + CODE_LIFETIME_MS,
    redeemed: false,
  });
  return code;
}

function respond(redirectUri: string, responseMode: string, values: Record<string, string>): AuthorizeResult {
  if (responseMode === "form_post") return page(200, renderFormPost(redirectUri, values));
  const target = new URL(redirectUri);
  for (const [key, value] of Object.entries(values)) target.searchParams.set(key, value);
  return { status: 302, headers: { location: target.toString(), "cache-control": "no-store" }, body: "" };
}

function page(status: number, html: string): AuthorizeResult {
  return {
    status,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
    body: html,
  };
}

function describe(ctx: EmulatorContext, aadsts: number, detail?: string): string {
  return entraErrorBody(
    aadsts,
    ctx.clock.now(),
    { traceId: newGuid(), correlationId: newGuid() },
    detail ? { detail } : {},
  ).body.error_description;
}
