// What the flows need from the outside world, declared here so flows import only core; main.ts passes adapters in.
import type { Connection } from "./connection.ts";
import type { Org } from "./org.ts";
import type { TokenCachePersistence } from "./token-cache.ts";

export interface OrgRepository {
  get(id: string): Promise<Org | undefined>;
  list(): Promise<Org[]>;
  readClientSecret(id: string): Promise<string | undefined>;
  markSecretExpiryWarned(id: string, days: number, forExpiresAt?: number | null): Promise<void>;
}

export interface ConnectionRepository {
  get(orgId: string): Promise<Connection | undefined>;
  save(connection: Connection): Promise<void>;
}

export interface PendingAuthRequest {
  state: string;
  orgId: string;
  codeVerifier: string;
  nonce: string;
  loginHint: string | null;
  replaceUser: boolean;
  createdAt: number;
  expiresAt: number;
}

export interface PendingAuthRepository {
  create(pending: PendingAuthRequest): Promise<void>;
  take(state: string): Promise<PendingAuthRequest | undefined>;
}

export interface TokenCacheRepository {
  persistenceFor(orgId: string): TokenCachePersistence;
}

export interface EventSink {
  append(event: {
    orgId?: string | null;
    kind: string;
    severity: "info" | "warning" | "error" | "critical";
    message: string;
    details?: Record<string, unknown> | null;
  }): Promise<unknown>;
}

export interface JobQueue {
  schedule(
    job: { kind: string; orgId?: string | null; dedupeKey: string; runAt: number },
    now: number,
  ): Promise<void>;
  unschedule(dedupeKey: string): Promise<void>;
}

export interface OrgLock {
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export interface EntraApp {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface AcquiredTokens {
  accessToken: string;
  /** Epoch ms, from the access token's `exp` claim (msal's `expiresOn` follows the system clock). */
  accessTokenExpiresAt: number;
  /** msal's `{oid}.{tid}`: how a refresh finds the account in the cache. */
  homeAccountId: string;
  /** `oid`: the service user's immutable object id. */
  userId: string;
  /** `tid` */
  tenantId: string;
  /** `preferred_username`: for display and `login_hint` only, never for authorization. */
  userPrincipalName: string;
  /** `name` */
  displayName: string | null;
}

/** A token-endpoint failure as the classifier needs it; never carries token material. */
export interface TokenFailureInfo {
  /** HTTP status of the token endpoint's answer; absent when none arrived. */
  status?: number;
  /** OAuth `error` from the body, or msal's `errorCode` for failures on our side (`no_tokens_found`, ...). */
  error?: string;
  subError?: string;
  /** AADSTS number: `error_codes[0]`, or msal's `errorNo`. */
  aadsts?: number;
  /** From `Retry-After`, in milliseconds. */
  retryAfterMs?: number;
  transport?: "timeout" | "network" | "invalid_body";
}

export interface IdentityProvider {
  buildAuthorizeUrl(
    app: { tenantId: string; clientId: string },
    request: { redirectUri: string; state: string; nonce: string; codeChallenge: string; loginHint?: string },
  ): string;
  redeemCode(
    app: EntraApp,
    cache: TokenCachePersistence,
    request: { code: string; codeVerifier: string; redirectUri: string; nonce: string; state: string },
  ): Promise<AcquiredTokens>;
  refresh(app: EntraApp, cache: TokenCachePersistence, homeAccountId: string): Promise<AcquiredTokens>;
  currentAccessToken(
    app: EntraApp,
    cache: TokenCachePersistence,
    homeAccountId: string,
  ): Promise<AcquiredTokens>;
  /** The failure behind an error thrown by redeemCode/refresh, or undefined for anything else (a bug). */
  failureOf(error: unknown): TokenFailureInfo | undefined;
  createPkcePair(): { verifier: string; challenge: string };
  randomToken(bytes?: number): string;
}
