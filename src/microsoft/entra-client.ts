// The relay's identity adapter: everything msal-node does for us, behind a small surface. Together with the
// network client it is the only code that imports @azure/msal-node (reference/entra-auth-and-stack.md §2.4).
// - One ConfidentialClientApplication per call, over the org's persisted cache (msal's own advice for
//   distributed caches; its in-memory state never outlives an operation, nor does its throttle bookkeeping).
// - The authorize URL is built by hand: msal 7's getAuthCodeUrl drops `login_hint` when `prompt` is
//   `select_account`, and the relay needs both.
// - Refreshes always force: msal judges cached tokens by the system clock, the relay by its injected clock.
// - Failures become EntraTokenError with what the network client saw (status, Retry-After, AADSTS numbers),
//   because msal's errors carry no HTTP status (§2.1).
import type { AcquiredTokens as CoreAcquiredTokens } from "../core/ports.ts";
import { createHash, randomBytes } from "node:crypto";
import {
  AuthError,
  ConfidentialClientApplication,
  LogLevel,
  type AuthenticationResult,
  type ICachePlugin,
  type TokenCacheContext,
} from "@azure/msal-node";
import { decodeJwt } from "jose";
import { RelayError } from "../core/errors.ts";
import type { TokenCachePersistence } from "../core/token-cache.ts";
import { ENTRA_LOGIN_ORIGIN, EntraNetworkClient, type EntraResponseInfo } from "./entra-network-client.ts";
import { EntraTokenError, type EntraFailure, type EntraOperation } from "./entra-token-error.ts";

/** The delegated permissions the relay asks for, exactly as sent in the authorize request. */
export const RELAY_SCOPES =
  "User.Read Chat.Read Chat.ReadBasic ChatMessage.Read openid offline_access profile";

/** The Graph part of RELAY_SCOPES, for msal's token requests (msal adds `openid profile offline_access`). */
export const RELAY_GRAPH_SCOPES: readonly string[] = Object.freeze([
  "User.Read",
  "Chat.Read",
  "Chat.ReadBasic",
  "ChatMessage.Read",
]);

export type AuthorizePrompt = "select_account" | "login" | "consent" | "none";

export interface EntraAppCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface AuthorizeRequest {
  redirectUri: string;
  state: string;
  nonce: string;
  /** S256 challenge of the PKCE verifier (createPkcePair). */
  codeChallenge: string;
  /** Pre-fills the expected service user's UPN. */
  loginHint?: string;
  /** Default `select_account`, so the admin's own SSO session is not picked silently. */
  prompt?: AuthorizePrompt;
}

export interface RedeemRequest {
  code: string;
  codeVerifier: string;
  redirectUri: string;
  /** The values sent in the authorize request: msal checks the ID token's `nonce` and the returned `state`. */
  nonce: string;
  state: string;
}

/** The core's view of a token acquisition (src/core/ports.ts), plus the ID token's claims. */
export interface AcquiredTokens extends CoreAcquiredTokens {
  idTokenClaims: Readonly<Record<string, unknown>>;
}

export interface EntraClientOptions {
  /** `https://login.microsoftonline.com`, or the emulator's URL (RELAY_LOGIN_BASE_URL). */
  loginBaseUrl: string;
  /** Extra CA to trust for `loginBaseUrl` (RELAY_MICROSOFT_CA_FILE). */
  extraCaPem?: string;
  /** Per token request; default 10 s (the network client's). */
  timeoutMs?: number;
  /** Only used when an access token is not a JWT; defaults to Date.now. */
  now?: () => number;
  /** Sees every exchange with Entra (status, AADSTS, trace ids; never tokens), e.g. for metrics. */
  onResponse?: (info: EntraResponseInfo) => void;
}

export interface EntraClient {
  buildAuthorizeUrl(app: { tenantId: string; clientId: string }, request: AuthorizeRequest): string;
  /** Redeems a code; the cache then holds this account only (a reconnect replaces the previous blob). */
  redeemCode(
    app: EntraAppCredentials,
    cache: TokenCachePersistence,
    request: RedeemRequest,
  ): Promise<AcquiredTokens>;
  /** Always goes to the token endpoint; the rotated refresh token is saved through `cache`. */
  refresh(
    app: EntraAppCredentials,
    cache: TokenCachePersistence,
    homeAccountId: string,
  ): Promise<AcquiredTokens>;
  /**
   * The cached access token, refreshed by msal only when msal (by the system clock) finds it expired. Callers check
   * expiry by their own clock first and use `refresh` when it is near.
   */
  currentAccessToken(
    app: EntraAppCredentials,
    cache: TokenCachePersistence,
    homeAccountId: string,
  ): Promise<AcquiredTokens>;
}

export function createEntraClient(options: EntraClientOptions): EntraClient {
  const loginBase = options.loginBaseUrl.replace(/\/+$/, "");
  const now = options.now ?? Date.now;

  const newNetwork = (): EntraNetworkClient => {
    const network = new EntraNetworkClient({
      loginBaseUrl: options.loginBaseUrl,
      ...(options.extraCaPem !== undefined ? { extraCaPem: options.extraCaPem } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.onResponse !== undefined ? { onResponse: options.onResponse } : {}),
    });
    network.lastResponse = undefined;
    return network;
  };

  const newApplication = (app: EntraAppCredentials, network: EntraNetworkClient, cachePlugin: ICachePlugin) =>
    new ConfidentialClientApplication({
      auth: {
        clientId: app.clientId,
        clientSecret: app.clientSecret,
        // Always the real authority: msal refuses non-https ones; the network client rewrites the origin.
        authority: `${ENTRA_LOGIN_ORIGIN}/${checkTenantId(app.tenantId)}`,
      },
      cache: { cachePlugin },
      system: {
        networkClient: network,
        loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error, loggerCallback: () => {} },
      },
    });

  return {
    buildAuthorizeUrl(app, request) {
      const url = new URL(`${loginBase}/${checkTenantId(app.tenantId)}/oauth2/v2.0/authorize`);
      const params: Record<string, string> = {
        client_id: app.clientId,
        response_type: "code",
        redirect_uri: request.redirectUri,
        response_mode: "query",
        scope: RELAY_SCOPES,
        state: request.state,
        nonce: request.nonce,
        code_challenge: request.codeChallenge,
        code_challenge_method: "S256",
        prompt: request.prompt ?? "select_account",
      };
      if (request.loginHint !== undefined && request.loginHint !== "") params.login_hint = request.loginHint;
      for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
      return url.toString();
    },

    async redeemCode(app, cache, request) {
      const network = newNetwork();
      // No load: a fresh connection starts a fresh cache, so the row never accumulates a previous user.
      const client = newApplication(app, network, cachePlugin(cache, { load: false }));
      let result: AuthenticationResult;
      try {
        result = await client.acquireTokenByCode(
          {
            code: request.code,
            scopes: [...RELAY_GRAPH_SCOPES],
            redirectUri: request.redirectUri,
            codeVerifier: request.codeVerifier,
            state: request.state,
            nonce: request.nonce,
          },
          // msal 7 takes code and nonce from the request and only state from the payload; pass both anyway.
          { code: request.code, state: request.state, nonce: request.nonce },
        );
      } catch (error) {
        throw toEntraError("redeem", error, network);
      }
      return toAcquired("redeem", result, now);
    },

    refresh: (app, cache, homeAccountId) => acquireSilently(app, cache, homeAccountId, true),
    currentAccessToken: (app, cache, homeAccountId) => acquireSilently(app, cache, homeAccountId, false),
  };

  async function acquireSilently(
    app: EntraAppCredentials,
    cache: TokenCachePersistence,
    homeAccountId: string,
    forceRefresh: boolean,
  ): Promise<AcquiredTokens> {
    const network = newNetwork();
    const client = newApplication(app, network, cachePlugin(cache, { load: true }));
    let result: AuthenticationResult;
    try {
      const account = await client.getTokenCache().getAccountByHomeId(homeAccountId);
      if (account === null) throw new EntraTokenError("refresh", { error: "no_account" });
      result = await client.acquireTokenSilent({ account, scopes: [...RELAY_GRAPH_SCOPES], forceRefresh });
    } catch (error) {
      throw toEntraError("refresh", error, network);
    }
    return toAcquired("refresh", result, now);
  }
}

/** PKCE (RFC 7636) S256 pair: a 43-character verifier and its SHA-256 challenge, both base64url. */
export function createPkcePair(): { verifier: string; challenge: string } {
  const verifier = randomUrlToken(32);
  const challenge = createHash("sha256").update(verifier, "ascii").digest("base64url");
  return { verifier, challenge };
}

/** A random base64url string from `bytes` random bytes: OAuth `state`, `nonce`. */
export function randomUrlToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 16) throw new RangeError("randomUrlToken needs at least 16 bytes");
  return randomBytes(bytes).toString("base64url");
}

function cachePlugin(cache: TokenCachePersistence, mode: { load: boolean }): ICachePlugin {
  return {
    async beforeCacheAccess(context: TokenCacheContext) {
      if (!mode.load) return;
      const blob = await cache.load();
      if (blob !== undefined && blob !== "") context.tokenCache.deserialize(blob);
    },
    async afterCacheAccess(context: TokenCacheContext) {
      if (context.cacheHasChanged) await cache.save(context.tokenCache.serialize());
    },
  };
}

/**
 * msal errors become EntraTokenError; anything else (the cache persistence failing, a decryption error) is not
 * Entra's answer and is rethrown as it is.
 */
function toEntraError(operation: EntraOperation, error: unknown, network: EntraNetworkClient): unknown {
  if (error instanceof EntraTokenError) return error;
  if (!(error instanceof AuthError)) return error;
  const failure: EntraFailure = {};
  const info = network.lastResponse;
  if (info !== undefined) {
    if (info.status !== undefined) failure.status = info.status;
    if (info.failure !== undefined) failure.transport = info.failure;
    if (info.retryAfterMs !== undefined) failure.retryAfterMs = info.retryAfterMs;
    if (info.error !== undefined) failure.error = info.error;
    if (info.subError !== undefined) failure.subError = info.subError;
    const code = info.errorCodes?.[0];
    if (code !== undefined) failure.aadsts = code;
    if (info.traceId !== undefined) failure.traceId = info.traceId;
    if (info.correlationId !== undefined) failure.correlationId = info.correlationId;
  }
  // msal's fields fill what the wire did not say (client-side failures such as `no_tokens_found`).
  if (failure.error === undefined && error.errorCode) failure.error = error.errorCode;
  if (failure.subError === undefined && error.subError) failure.subError = error.subError;
  if (failure.aadsts === undefined) {
    const errorNo = Number((error as { errorNo?: unknown }).errorNo);
    if (Number.isInteger(errorNo) && errorNo > 0) failure.aadsts = errorNo;
  }
  return new EntraTokenError(operation, failure);
}

function toAcquired(
  operation: EntraOperation,
  result: AuthenticationResult,
  now: () => number,
): AcquiredTokens {
  const claims = (result.idTokenClaims ?? {}) as Record<string, unknown>;
  const account = result.account;
  const userId = stringClaim(claims.oid) ?? (result.uniqueId || undefined);
  const tenantId = stringClaim(claims.tid) ?? (result.tenantId || undefined);
  const userPrincipalName = stringClaim(claims.preferred_username) ?? (account?.username || undefined);
  if (!result.accessToken || !account?.homeAccountId || !userId || !tenantId || !userPrincipalName) {
    // Entra answered 200 but without what the relay needs (openid/profile claims, client_info).
    throw new EntraTokenError(operation, { status: 200, error: "incomplete_token_response" });
  }
  return {
    accessToken: result.accessToken,
    accessTokenExpiresAt: accessTokenExpiry(result, now),
    homeAccountId: account.homeAccountId,
    userId,
    tenantId,
    userPrincipalName,
    displayName: stringClaim(claims.name) ?? (account.name || null),
    idTokenClaims: Object.freeze({ ...claims }),
  };
}

function accessTokenExpiry(result: AuthenticationResult, now: () => number): number {
  try {
    const { exp } = decodeJwt(result.accessToken);
    if (typeof exp === "number" && Number.isFinite(exp)) return exp * 1000;
  } catch {
    // Not a JWT (Microsoft may encrypt or change access tokens): fall back to msal's lifetime.
  }
  const lifetime = result.expiresOn ? result.expiresOn.getTime() - Date.now() : 3600_000;
  return now() + Math.max(0, lifetime);
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** A tenant GUID or domain: it becomes a path segment of the authority. */
function checkTenantId(tenantId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$/.test(tenantId)) {
    throw new RelayError("ERR_VALIDATION", "tenantId must be a tenant GUID or domain name");
  }
  return tenantId;
}
