// Contracts between receiving notifications (webhook intake, subscriptions) and processing them (worker, polling).

/** A stored subscription as the intake and the worker need it. `clientState` is the clear value (decrypted). */
export interface KnownSubscription {
  id: string;
  orgId: string;
  clientState: string;
  includeResourceData: boolean;
}

export interface SubscriptionLookup {
  /** Undefined for ids the relay does not know (or removed ones). */
  find(subscriptionId: string): Promise<KnownSubscription | undefined>;
  /** Called by the worker when a notification for it was processed. */
  touchNotification(subscriptionId: string, at: number): Promise<void>;
}

/** A private key registered as `encryptionCertificateId` for rich notifications; retired keys stay resolvable. */
export interface DecryptionKeyring {
  resolve(
    encryptionCertificateId: string,
  ): Promise<{ orgId: string; privateKeyPem: string; thumbprint: string } | undefined>;
}

export interface InboxItem {
  id: string;
  orgId: string | null;
  subscriptionId: string;
  kind: "change" | "lifecycle";
  /** The notification item as received, without `clientState`. */
  item: Record<string, unknown>;
  /** The batch's `validationTokens` (rich notifications only). */
  validationTokens: string[];
  receivedAt: number;
  attempts: number;
}

export interface InboxQueue {
  /** Claims due pending items (leased until now + leaseMs); a dead worker's lease runs out and another takes them. */
  claim(owner: string, now: number, leaseMs: number, limit: number): Promise<InboxItem[]>;
  /** Done: `processed` (handled) or `rejected` (failed validation; kept without content for counting). */
  complete(
    id: string,
    owner: string,
    status: "processed" | "rejected",
    reason: string | null,
    at: number,
  ): Promise<void>;
  /** Not done yet (Graph throttled the fetch, storage hiccup): try again at `retryAt`. */
  retry(id: string, owner: string, error: string, retryAt: number): Promise<void>;
  /** Claimed but never started (the worker is stopping): free for any worker at once, the claim uncounted. */
  release(ids: readonly string[], owner: string): Promise<void>;
}

/** How a new Teams chat message reached the relay. */
export type MessageSource = "notification" | "polling";

/** The hand-off to emergency detection (next issue). Called once per (org, chat, message). */
export type NewMessageHandler = (
  orgId: string,
  message: Record<string, unknown>,
  source: MessageSource,
) => Promise<void>;

/** Lifecycle events go to the subscription keeper. */
export type LifecycleHandler = (subscriptionId: string, event: string) => Promise<void>;
