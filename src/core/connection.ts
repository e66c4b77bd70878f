import type { FailureBucket } from "./token-failure.ts";

export type ConnectionState = "connected" | "retrying" | "needs_reauth" | "misconfigured" | "disconnected";

/** The org's connected service user and the health of its tokens. No token material lives here. */
export interface Connection {
  orgId: string;
  state: ConnectionState;
  tenantId: string;
  userId: string;
  userPrincipalName: string;
  userDisplayName: string | null;
  homeAccountId: string;
  accessTokenExpiresAt: number | null;
  lastRefreshAt: number | null;
  consecutiveFailures: number;
  lastError: { bucket: FailureBucket; aadsts: number | null; message: string } | null;
  connectedAt: number;
  updatedAt: number;
}
