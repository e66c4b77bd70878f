/**
 * An organization: one Entra tenant whose Teams service user the relay connects, with the app registration the
 * org brought (tenant, client id, client secret). A plain value: the client secret never appears here, only
 * whether one is stored.
 */
export interface Org {
  /** `org_` followed by 16 lowercase hex characters. */
  id: string;
  name: string;
  /** Directory (tenant) ID, a lowercase GUID. */
  tenantId: string | null;
  /** Application (client) ID, a lowercase GUID. */
  clientId: string | null;
  hasClientSecret: boolean;
  /** Epoch milliseconds, as the admin entered it from the Entra portal. */
  clientSecretExpiresAt: number | null;
  /** Origin (and optional path) Graph sends notifications to, without trailing slash. */
  webhookBaseUrl: string | null;
  /** UPN the admin expects to connect; sent as `login_hint`. */
  expectedServiceUserUpn: string | null;
  /** Smallest "days left" threshold already announced for the current secret expiry. */
  secretExpiryWarnedDays: number | null;
  /**
   * `rich` (default): notifications carry the encrypted message. `basic`: they carry only its id, and the worker
   * fetches each message from Graph (for tenants that will not allow resource data in notifications).
   */
  notificationMode: NotificationMode;
  createdAt: number;
  updatedAt: number;
}

export type NotificationMode = "rich" | "basic";

export const NOTIFICATION_MODES: readonly NotificationMode[] = ["rich", "basic"];

export interface NewOrg {
  name: string;
  notificationMode?: NotificationMode;
  webhookBaseUrl?: string | null;
  expectedServiceUserUpn?: string | null;
}

/** Fields left out (or `undefined`) stay as they are; `null` clears. */
export interface OrgPatch {
  name?: string;
  tenantId?: string | null;
  clientId?: string | null;
  /** Clear text on its way in; stored sealed. */
  clientSecret?: string | null;
  /** Epoch milliseconds. */
  clientSecretExpiresAt?: number | null;
  webhookBaseUrl?: string | null;
  expectedServiceUserUpn?: string | null;
  notificationMode?: NotificationMode;
}

export type ConnectField = "tenantId" | "clientId" | "clientSecret";

/** What the admin still has to enter before the service user can be connected; empty when ready. */
export function missingForConnect(org: Org): ConnectField[] {
  const missing: ConnectField[] = [];
  if (org.tenantId === null) missing.push("tenantId");
  if (org.clientId === null) missing.push("clientId");
  if (!org.hasClientSecret) missing.push("clientSecret");
  return missing;
}

/**
 * The redirect URI the org's app registration must list exactly (Entra compares it case-sensitively).
 * `publicUrl` is `RELAY_PUBLIC_URL` (config strips its trailing slash; so does this).
 */
export function redirectUriFor(publicUrl: string, orgId: string): string {
  return `${publicUrl.replace(/\/+$/, "")}/api/org/${encodeURIComponent(orgId)}/ms-teams/callback`;
}
