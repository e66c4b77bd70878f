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
  accessTokenExpiresAt: number;
  homeAccountId: string;
  userId: string;
  tenantId: string;
  userPrincipalName: string;
  displayName: string | null;
}

/** A token-endpoint failure as the classifier needs it; never carries token material. */
export interface TokenFailureInfo {
  status?: number;
  error?: string;
  subError?: string;
  aadsts?: number;
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
