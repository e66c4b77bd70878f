import type { GraphChat, GraphChatMessage } from "./graph/graph-types.ts";

export interface Tenant {
  id: string;
  displayName: string;
  domain: string;
}

export interface AppSecret {
  keyId: string;
  value: string;
  expiresAt: number | null;
}

export interface AppRegistration {
  clientId: string;
  tenantId: string;
  displayName: string;
  redirectUris: string[];
  /** `signInAudience: AzureADMultipleOrgs`: users of any tenant may sign in, and their tokens carry their own `tid`. */
  multiTenant: boolean;
  secrets: AppSecret[];
}

export interface User {
  id: string;
  tenantId: string;
  displayName: string;
  userPrincipalName: string;
  /** Refresh tokens issued before this instant are revoked ("revoke sessions", admin password reset). */
  tokensValidAfter: number;
}

export interface AuthCode {
  code: string;
  tenantId: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  scopes: string[];
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  nonce: string | null;
  expiresAt: number;
  redeemed: boolean;
}

export interface RefreshTokenRecord {
  token: string;
  tenantId: string;
  clientId: string;
  userId: string;
  scopes: string[];
  issuedAt: number;
  /** Sliding 90-day inactivity window (https://learn.microsoft.com/entra/identity-platform/refresh-tokens). */
  expiresAt: number;
  usedAt: number | null;
}

export interface IssuedAccessToken {
  jti: string;
  tenantId: string;
  clientId: string;
  userId: string;
  scopes: string[];
  issuedAt: number;
  expiresAt: number;
  token: string;
}

export interface StoredChat extends GraphChat {
  memberIds: string[];
}

export interface StoredMessage extends GraphChatMessage {
  tenantId: string;
}

export interface Subscription {
  id: string;
  tenantId: string;
  appId: string;
  creatorId: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  expirationDateTime: number;
  includeResourceData: boolean;
  encryptionCertificate: string | null;
  encryptionCertificateId: string | null;
  latestSupportedTlsVersion: string;
  notificationQueryOptions: string | null;
  /** Expiry of the delegated token that last authorized this subscription; drives `reauthorizationRequired`. */
  authorizedUntil: number;
  lastReauthorizationNoticeAt: number | null;
  lastPatchAt: number | null;
  lastReauthorizeAt: number | null;
  createdAt: number;
  removed: boolean;
}

export type DeliveryStatus = "pending" | "delivered" | "failed" | "dropped" | "lost";

export interface DeliveryAttempt {
  at: number;
  latencyMs: number;
  status: number | null;
  error: string | null;
  timedOut: boolean;
}

/** One notification item on its way to one URL. Items due together for one URL are batched into one POST. */
export interface Delivery {
  id: string;
  subscriptionId: string;
  kind: "change" | "lifecycle";
  url: string;
  item: Record<string, unknown>;
  /** For rich notifications: the (appId, tenantId) pair that needs a `validationTokens` entry. */
  needsValidationToken: boolean;
  status: DeliveryStatus;
  reason: string | null;
  createdAt: number;
  firstAttemptAt: number | null;
  nextAttemptAt: number;
  attempts: DeliveryAttempt[];
  deliveredAt: number | null;
  /** Delivery faults (`duplicate`, `reorder`) apply once per item. */
  duplicate: boolean;
  holdForReorder: boolean;
}

export interface Fault {
  id: string;
  target: "token" | "graph" | "delivery";
  kind: "aadsts" | "http" | "hang" | "duplicate" | "reorder" | "delay" | "drop";
  aadsts?: number;
  status?: number;
  retryAfter?: number;
  delaySeconds?: number;
  /** Optional substring of the request path (graph) or notification URL (delivery) the fault is limited to. */
  match?: string;
  remaining: number;
}

/** Graph's view of one notification endpoint, for its slow/drop throttling states. */
export interface EndpointHealth {
  samples: { at: number; overFirstTimeout: boolean; overRetryTimeout: boolean }[];
  slowUntil: number;
  dropUntil: number;
}

export interface ProtocolViolation {
  at: number;
  subscriptionId: string;
  rule: string;
}

export interface EmulatorState {
  tenants: Map<string, Tenant>;
  apps: Map<string, AppRegistration>;
  users: Map<string, User>;
  chats: Map<string, StoredChat>;
  /** Messages by chat id, oldest first. */
  messages: Map<string, StoredMessage[]>;
  authCodes: Map<string, AuthCode>;
  refreshTokens: Map<string, RefreshTokenRecord>;
  accessTokens: IssuedAccessToken[];
  subscriptions: Map<string, Subscription>;
  deliveries: Delivery[];
  faults: Fault[];
  endpoints: Map<string, EndpointHealth>;
  /** Client behaviour Microsoft warns against, recorded so tests can assert the relay never does it. */
  protocolViolations: ProtocolViolation[];
  emergencyCalls: {
    callId: string;
    tenantId: string;
    callerId: string;
    dialString: string;
    at: number;
    messages: { userId: string; chatId: string; messageId: string }[];
  }[];
}

export function createEmulatorState(): EmulatorState {
  return {
    tenants: new Map(),
    apps: new Map(),
    users: new Map(),
    chats: new Map(),
    messages: new Map(),
    authCodes: new Map(),
    refreshTokens: new Map(),
    accessTokens: [],
    subscriptions: new Map(),
    deliveries: [],
    faults: [],
    endpoints: new Map(),
    protocolViolations: [],
    emergencyCalls: [],
  };
}
