import type { Clock } from "../core/clock.ts";
import type { Connection } from "../core/connection.ts";
import { RelayError } from "../core/errors.ts";
import { missingForConnect, redirectUriFor } from "../core/org.ts";
import type {
  ConnectionRepository,
  EventSink,
  IdentityProvider,
  OrgLock,
  OrgRepository,
  PendingAuthRepository,
  TokenCacheRepository,
} from "../core/ports.ts";
import type { TokenCachePersistence } from "../core/token-cache.ts";
import { classifyTokenFailure } from "../core/token-failure.ts";
import type { TokenKeeper } from "./keep-tokens.ts";

/** State, verifier and nonce live 15 minutes (issue 3); Entra's own codes live about 10. */
const PENDING_TTL_MS = 15 * 60_000;
/** `tid` of personal Microsoft accounts (https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference). */
const CONSUMER_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad";

export interface ConnectDeps {
  clock: Clock;
  publicUrl: string;
  orgs: OrgRepository;
  connections: ConnectionRepository;
  pending: PendingAuthRepository;
  tokenCaches: TokenCacheRepository;
  identity: IdentityProvider;
  lock: OrgLock;
  events: EventSink;
  keeper: TokenKeeper;
  /** After a successful connect (e.g. schedule the Graph subscription); it must not call Microsoft itself. */
  onConnected?(orgId: string): Promise<void>;
}

export interface ConnectOrgFlow {
  start(
    orgId: string,
    options?: { loginHint?: string; replaceUser?: boolean },
  ): Promise<{ authorizeUrl: string }>;
  complete(orgId: string, callback: Record<string, string | undefined>): Promise<Connection>;
}

const rejected = (message: string) => new RelayError("ERR_OAUTH_REJECTED", message);

/** A throwaway cache for redeeming: the org's real cache is only replaced once the account passed every check. */
function stagingCache(): TokenCachePersistence & { blob(): string | undefined } {
  let blob: string | undefined;
  return {
    load: async () => blob,
    save: async (serialized) => {
      blob = serialized;
    },
    blob: () => blob,
  };
}

export function createConnectOrgFlow(deps: ConnectDeps): ConnectOrgFlow {
  async function loadApp(orgId: string) {
    const org = await deps.orgs.get(orgId);
    if (!org) throw new RelayError("ERR_NOT_FOUND", `No org ${orgId}.`);
    const missing = missingForConnect(org);
    if (missing.length > 0) {
      throw new RelayError(
        "ERR_ORG_INCOMPLETE",
        `Org ${orgId} cannot connect yet: set ${missing.join(", ")} first (PATCH /api/orgs/${orgId}).`,
      );
    }
    const clientSecret = await deps.orgs.readClientSecret(orgId);
    if (!clientSecret) throw new RelayError("ERR_ORG_INCOMPLETE", `Org ${orgId} has no client secret.`);
    return { org, app: { tenantId: org.tenantId!, clientId: org.clientId!, clientSecret } };
  }

  return {
    async start(orgId, options = {}) {
      const { org, app } = await loadApp(orgId);
      const now = deps.clock.now();
      const pkce = deps.identity.createPkcePair();
      const state = deps.identity.randomToken(32);
      const nonce = deps.identity.randomToken(16);
      const loginHint = options.loginHint ?? org.expectedServiceUserUpn ?? null;
      await deps.pending.create({
        state,
        orgId,
        codeVerifier: pkce.verifier,
        nonce,
        loginHint,
        replaceUser: options.replaceUser ?? false,
        createdAt: now,
        expiresAt: now + PENDING_TTL_MS,
      });
      const authorizeUrl = deps.identity.buildAuthorizeUrl(app, {
        redirectUri: redirectUriFor(deps.publicUrl, orgId),
        state,
        nonce,
        codeChallenge: pkce.challenge,
        ...(loginHint ? { loginHint } : {}),
      });
      return { authorizeUrl };
    },

    async complete(orgId, callback) {
      const now = deps.clock.now();
      if (!callback.state)
        throw new RelayError(
          "ERR_OAUTH_STATE",
          "The sign-in answer carries no state; start again from Connect.",
        );
      const pending = await deps.pending.take(callback.state);
      if (!pending) {
        throw new RelayError(
          "ERR_OAUTH_STATE",
          "This sign-in answer is unknown or was already used; start again from Connect.",
        );
      }
      if (pending.orgId !== orgId)
        throw new RelayError(
          "ERR_OAUTH_STATE",
          "This sign-in answer belongs to another org; start again from Connect.",
        );
      if (pending.expiresAt <= now)
        throw new RelayError(
          "ERR_OAUTH_STATE",
          "This sign-in took longer than 15 minutes; start again from Connect.",
        );
      if (callback.error) {
        throw rejected(
          `Microsoft refused the sign-in: ${callback.error}${callback.error_description ? ` (${callback.error_description})` : ""}.`,
        );
      }
      if (!callback.code) throw rejected("The sign-in answer carries no authorization code.");

      const { org, app } = await loadApp(orgId);
      return deps.lock.withLock(`token:${orgId}`, async () => {
        const staging = stagingCache();
        let tokens;
        try {
          tokens = await deps.identity.redeemCode(app, staging, {
            code: callback.code!,
            codeVerifier: pending.codeVerifier,
            redirectUri: redirectUriFor(deps.publicUrl, orgId),
            nonce: pending.nonce,
            state: pending.state,
          });
        } catch (error) {
          const failure = deps.identity.failureOf(error);
          if (!failure) throw error;
          const { reason } = classifyTokenFailure(failure);
          throw rejected(
            `Redeeming the sign-in failed${failure.aadsts ? ` (AADSTS${failure.aadsts})` : ""}: ${reason}`,
          );
        }
        if (tokens.tenantId === CONSUMER_TENANT_ID) {
          throw rejected(
            "A personal Microsoft account signed in; sign in with the org's work account (service user).",
          );
        }
        if (tokens.tenantId !== org.tenantId) {
          throw rejected(
            `The account ${tokens.userPrincipalName} belongs to tenant ${tokens.tenantId}, but this org is tenant ${org.tenantId}.`,
          );
        }
        const previous = await deps.connections.get(orgId);
        if (previous && previous.userId !== tokens.userId && !pending.replaceUser) {
          throw rejected(
            `Signed in as ${tokens.userPrincipalName}, but this org's service user is ${previous.userPrincipalName}. ` +
              "Sign in as that user, or reconnect with replace_user=true to change the service user.",
          );
        }
        const blob = staging.blob();
        if (!blob) throw new RelayError("ERR_INTERNAL", "The token cache was not written during sign-in.");
        await deps.tokenCaches.persistenceFor(orgId).save(blob);
        const connection: Connection = {
          orgId,
          state: "connected",
          tenantId: tokens.tenantId,
          userId: tokens.userId,
          userPrincipalName: tokens.userPrincipalName,
          userDisplayName: tokens.displayName,
          homeAccountId: tokens.homeAccountId,
          accessTokenExpiresAt: tokens.accessTokenExpiresAt,
          lastRefreshAt: now,
          consecutiveFailures: 0,
          lastError: null,
          connectedAt: now,
          updatedAt: now,
        };
        await deps.connections.save(connection);
        const replaced = previous && previous.userId !== tokens.userId;
        await deps.events.append({
          orgId,
          kind: "connected",
          severity: "info",
          message: replaced
            ? `Service user replaced: now ${tokens.userPrincipalName} (was ${previous.userPrincipalName}).`
            : `Connected as ${tokens.userPrincipalName}.`,
          details: { userId: tokens.userId, tenantId: tokens.tenantId },
        });
        await deps.keeper.scheduleAfterSuccess(orgId, tokens.accessTokenExpiresAt);
        await deps.onConnected?.(orgId);
        return connection;
      });
    },
  };
}
