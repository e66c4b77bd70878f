// Graph subscriptions and encryption certificates as the subscription keeper sees them, and the ports it needs.
// Plain values: no clientState or private key appears here except where a port says so.

export type SubscriptionState = "active" | "failing" | "removed";

/** A subscription Graph confirmed. */
export interface Subscription {
  /** Graph's subscription id. */
  id: string;
  orgId: string;
  resource: string;
  changeType: string;
  includeResourceData: boolean;
  encryptionCertificateId: string | null;
  /** The expiry Graph returned (epoch ms), never the one requested. */
  expiresAt: number;
  state: SubscriptionState;
  lastRenewedAt: number | null;
  lastNotificationAt: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface NewSubscription {
  id: string;
  orgId: string;
  resource: string;
  changeType: string;
  clientState: string;
  includeResourceData: boolean;
  encryptionCertificateId: string | null;
  expiresAt: number;
}

/**
 * The subscription the keeper is about to create, stored before `POST /subscriptions`: if the process dies after
 * Graph created it but before its id was saved, the retry gets a 409 and this clientState proves the existing
 * subscription is ours.
 */
export interface PendingSubscription {
  orgId: string;
  clientState: string;
  resource: string;
  changeType: string;
  includeResourceData: boolean;
  encryptionCertificateId: string | null;
  requestedExpiresAt: number;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

export type SubscriptionUpdate = Partial<
  Pick<Subscription, "expiresAt" | "state" | "lastRenewedAt" | "lastError" | "encryptionCertificateId">
>;

export interface SubscriptionRepository {
  get(id: string): Promise<Subscription | undefined>;
  /** Newest first; removed ones only when asked. */
  listByOrg(orgId: string, options?: { includeRemoved?: boolean }): Promise<Subscription[]>;
  save(subscription: NewSubscription, now: number): Promise<Subscription>;
  update(id: string, patch: SubscriptionUpdate, now: number): Promise<void>;
  markRemoved(id: string, now: number): Promise<void>;
  pending(orgId: string): Promise<PendingSubscription | undefined>;
  savePending(
    pending: Omit<PendingSubscription, "lastError" | "createdAt" | "updatedAt">,
    now: number,
  ): Promise<void>;
  recordPendingError(orgId: string, error: string, now: number): Promise<void>;
  /** Stores the confirmed subscription under Graph's id with the pending clientState; drops the pending row. */
  promotePending(
    orgId: string,
    confirmed: Omit<NewSubscription, "orgId" | "clientState">,
    now: number,
  ): Promise<Subscription>;
}

/** A per-org encryption certificate without its private key. */
export interface EncryptionCertificateInfo {
  /** Our `encryptionCertificateId`. */
  id: string;
  orgId: string;
  /** Base64 DER: the value sent as `encryptionCertificate`. */
  certificateDerBase64: string;
  thumbprint: string;
  notAfter: number;
  createdAt: number;
  retiredAt: number | null;
}

export interface CertificateRepository {
  /** The newest certificate of the org that is not retired. */
  current(orgId: string): Promise<EncryptionCertificateInfo | undefined>;
  get(id: string): Promise<EncryptionCertificateInfo | undefined>;
  create(orgId: string, now: number): Promise<EncryptionCertificateInfo>;
  /** No longer current; still resolvable for decrypting. */
  retire(id: string, now: number): Promise<void>;
}

/** A Graph answer that was not 2xx, or no answer; never carries token material. */
export interface GraphFailure {
  status: number | null;
  code: string | null;
  message: string;
  retryAfterMs: number | null;
  transport: "timeout" | "network" | null;
}

/** What the flows need from Microsoft Graph (src/microsoft/graph-client.ts behind it). */
export interface GraphPort {
  /** `path` relative to `/v1.0`. Rejects on anything but 2xx. */
  request<T = unknown>(
    orgId: string,
    method: string,
    path: string,
    body?: object,
  ): Promise<{ status: number; body: T }>;
  /** The Graph failure behind an error `request` threw; undefined when the error is not one (no token, a bug). */
  failureOf(error: unknown): GraphFailure | undefined;
}
